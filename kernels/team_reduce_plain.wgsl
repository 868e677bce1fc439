// Reductions over a team: TEAM consecutive invocations (TEAM a power of two dividing WG) that
// share a row. Portable path through workgroup memory in at most two levels of FAN-wide serial
// combines: three barriers whatever TEAM is (a log2(TEAM)-deep tree costs one per level, and
// barriers are what makes shaders slow to compile on CPU drivers).
// Every invocation of the workgroup must call these in uniform control flow (they hold barriers).
// Expects from the prelude: WG (workgroup size), TEAM, and team_combine (team_ops.wgsl).

const FAN: u32 = 16u;

var<workgroup> team_scratch: array<vec4f, WG>;
var<workgroup> team_partials: array<vec4f, WG / FAN>;

fn team_reduce(v: vec4f, li: u32, op: u32) -> vec4f {
  let lane = li % TEAM;
  let first = li - lane;
  workgroupBarrier(); // earlier readers of team_scratch / team_partials are done
  team_scratch[li] = v;
  workgroupBarrier();
  if (TEAM <= FAN) {
    var acc = team_scratch[first];
    for (var k = 1u; k < TEAM; k++) { acc = team_combine(acc, team_scratch[first + k], op); }
    return acc;
  }
  // TEAM / FAN lanes each fold FAN values, then every lane folds those partials
  if (lane < TEAM / FAN) {
    let at = first + lane * FAN;
    var acc = team_scratch[at];
    for (var k = 1u; k < FAN; k++) { acc = team_combine(acc, team_scratch[at + k], op); }
    team_partials[first / FAN + lane] = acc;
  }
  workgroupBarrier();
  var acc = team_partials[first / FAN];
  for (var k = 1u; k < TEAM / FAN; k++) { acc = team_combine(acc, team_partials[first / FAN + k], op); }
  return acc;
}

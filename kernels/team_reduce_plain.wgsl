// Sum / max over a team: TEAM consecutive invocations (TEAM a power of two dividing WG) that share
// one row. Portable path through workgroup memory in at most two levels of FAN-wide serial
// combines: three barriers whatever TEAM is (a log2(TEAM)-deep tree costs a barrier per level).
// Reduces vec2s so two sums can share one pass (team_sum2); the f32 forms ride in .x.
// Every invocation of the workgroup must call these in uniform control flow (they hold barriers).
// Expects from the prelude: WG (workgroup size), TEAM.

const FAN: u32 = 16u;

var<workgroup> team_scratch: array<vec2f, WG>;
var<workgroup> team_partials: array<vec2f, WG / FAN>;

fn team_combine(a: vec2f, b: vec2f, want_max: bool) -> vec2f {
  return select(a + b, max(a, b), want_max);
}

fn team_reduce(v: vec2f, li: u32, want_max: bool) -> vec2f {
  let lane = li % TEAM;
  let first = li - lane;
  workgroupBarrier(); // earlier readers of team_scratch / team_partials are done
  team_scratch[li] = v;
  workgroupBarrier();
  if (TEAM <= FAN) {
    var acc = team_scratch[first];
    for (var k = 1u; k < TEAM; k++) { acc = team_combine(acc, team_scratch[first + k], want_max); }
    return acc;
  }
  // TEAM / FAN lanes each fold FAN values, then every lane folds those partials
  if (lane < TEAM / FAN) {
    let at = first + lane * FAN;
    var acc = team_scratch[at];
    for (var k = 1u; k < FAN; k++) { acc = team_combine(acc, team_scratch[at + k], want_max); }
    team_partials[first / FAN + lane] = acc;
  }
  workgroupBarrier();
  var acc = team_partials[first / FAN];
  for (var k = 1u; k < TEAM / FAN; k++) { acc = team_combine(acc, team_partials[first / FAN + k], want_max); }
  return acc;
}

fn team_sum2(v: vec2f, li: u32) -> vec2f { return team_reduce(v, li, false); }
fn team_sum(v: f32, li: u32) -> f32 { return team_reduce(vec2f(v, 0.0), li, false).x; }
fn team_max(v: f32, li: u32) -> f32 { return team_reduce(vec2f(v, 0.0), li, true).x; }

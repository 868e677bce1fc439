// Reductions over a team: TEAM consecutive invocations (TEAM a power of two dividing WG) that
// share a row. Portable path through workgroup memory: every invocation writes its value, then
// folds its team's TEAM values itself (same order in every invocation, so all agree). Two
// barriers whatever TEAM is: a log2(TEAM)-deep tree costs one per level, and barriers are what
// makes shaders slow to compile on CPU drivers; the serial reads are broadcasts on GPUs.
// Every invocation of the workgroup must call these in uniform control flow (they hold barriers).
// Expects from the prelude: WG (workgroup size), TEAM, and team_combine (team_ops.wgsl).

var<workgroup> team_scratch: array<vec4f, WG>;

fn team_reduce(v: vec4f, li: u32, op: u32) -> vec4f {
  let first = li - li % TEAM;
  team_scratch[li] = v;
  workgroupBarrier();
  var acc = team_scratch[first];
  for (var k = 1u; k < TEAM; k++) { acc = team_combine(acc, team_scratch[first + k], op); }
  workgroupBarrier(); // every read is done before a later call writes again
  return acc;
}

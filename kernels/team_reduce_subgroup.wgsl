// Reductions over a team: TEAM consecutive invocations (TEAM a power of two dividing WG) that
// share a row. Subgroup path: a butterfly of shuffles inside each subgroup, then, only for teams
// wider than a subgroup, one exchange of per-subgroup partials through workgroup memory.
// SG is the device's fixed subgroup size (the wrapper uses this file only when the adapter's min
// and max subgroup sizes agree), and subgroups are assumed to be consecutive invocations, as on
// every Vulkan/Metal/D3D implementation in practice.
// Every invocation of the workgroup must call these in uniform control flow.
// Expects from the prelude: WG, TEAM, SG, `enable subgroups`, and team_combine (team_ops.wgsl).

var<workgroup> team_scratch: array<vec4f, WG>;

fn team_reduce(v: vec4f, li: u32, op: u32) -> vec4f {
  var r = v;
  for (var o = min(TEAM, SG) / 2u; o > 0u; o >>= 1u) {
    r = team_combine(r, subgroupShuffleXor(r, o), op);
  }
  if (TEAM <= SG) { return r; }
  workgroupBarrier(); // earlier readers of team_scratch are done
  if (li % SG == 0u) { team_scratch[li / SG] = r; }
  workgroupBarrier();
  let parts = TEAM / SG;
  let first = (li / TEAM) * parts;
  var acc = team_scratch[first];
  for (var k = 1u; k < parts; k++) { acc = team_combine(acc, team_scratch[first + k], op); }
  return acc;
}

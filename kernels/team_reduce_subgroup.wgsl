// Sum / max over a team: TEAM consecutive invocations (TEAM a power of two dividing WG) that share
// one row. Subgroup path: a butterfly of shuffles inside each subgroup, then, for teams wider than
// a subgroup, one exchange of per-subgroup partials through workgroup memory. Reduces vec2s so two
// sums can share one pass (team_sum2); the f32 forms ride in .x.
// SG is the device's fixed subgroup size (the wrapper uses this file only when the adapter's min
// and max subgroup sizes agree), and subgroups are assumed to be consecutive invocations, as on
// every Vulkan/Metal/D3D implementation in practice.
// Every invocation of the workgroup must call these in uniform control flow.
// Expects from the prelude: WG, TEAM, SG, `enable subgroups`.

var<workgroup> team_scratch: array<vec2f, WG>;

fn team_reduce(v: vec2f, li: u32, want_max: bool) -> vec2f {
  var r = v;
  for (var o = min(TEAM, SG) / 2u; o > 0u; o >>= 1u) {
    let other = subgroupShuffleXor(r, o);
    r = select(r + other, max(r, other), want_max);
  }
  if (TEAM <= SG) { return r; }
  workgroupBarrier(); // earlier readers of team_scratch are done
  if (li % SG == 0u) { team_scratch[li / SG] = r; }
  workgroupBarrier();
  let parts = TEAM / SG;
  let first = (li / TEAM) * parts;
  var acc = team_scratch[first];
  for (var k = 1u; k < parts; k++) {
    let other = team_scratch[first + k];
    acc = select(acc + other, max(acc, other), want_max);
  }
  return acc;
}

fn team_sum2(v: vec2f, li: u32) -> vec2f { return team_reduce(v, li, false); }
fn team_sum(v: f32, li: u32) -> f32 { return team_reduce(vec2f(v, 0.0), li, false).x; }
fn team_max(v: f32, li: u32) -> f32 { return team_reduce(vec2f(v, 0.0), li, true).x; }

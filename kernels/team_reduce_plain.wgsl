// Sum / max over a team: TEAM consecutive invocations (TEAM a power of two dividing WG) that share
// one row. Portable path: a tree in workgroup memory, log2(TEAM) barriers. Reduces vec2s so two
// sums can share one pass (team_sum2); the f32 forms ride in .x.
// Every invocation of the workgroup must call these in uniform control flow (they hold barriers).
// Expects from the prelude: WG (workgroup size), TEAM.

var<workgroup> team_scratch: array<vec2f, WG>;

fn team_reduce(v: vec2f, li: u32, want_max: bool) -> vec2f {
  workgroupBarrier(); // earlier readers of team_scratch are done
  team_scratch[li] = v;
  for (var o = TEAM / 2u; o > 0u; o >>= 1u) {
    workgroupBarrier();
    if (li % TEAM < o) {
      let a = team_scratch[li];
      let b = team_scratch[li + o];
      team_scratch[li] = select(a + b, max(a, b), want_max);
    }
  }
  workgroupBarrier();
  return team_scratch[li - li % TEAM];
}

fn team_sum2(v: vec2f, li: u32) -> vec2f { return team_reduce(v, li, false); }
fn team_sum(v: f32, li: u32) -> f32 { return team_reduce(vec2f(v, 0.0), li, false).x; }
fn team_max(v: f32, li: u32) -> f32 { return team_reduce(vec2f(v, 0.0), li, true).x; }

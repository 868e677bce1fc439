// Softmax over the last dim of x·scale, max-subtracted, f32 math: a team of TEAM invocations per
// row. Each invocation keeps an online (max, Σ exp(v − max)) over its vectors, one team reduction
// merges them, and a second sweep (from cache) writes exp(v − max) / sum.
// Expects from the prelude: T, VS/VF, hsum, hmax, WG, TEAM, team_softmax.

struct Params {
  rows: u32,
  row_vecs: u32,  // N / W
  row_width: u32, // rows per row of the 2-D grid of workgroups
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
@group(0) @binding(2) var<storage, read_write> out: array<VS>;

const ROWS: u32 = WG / TEAM;
const LOWEST: f32 = -3.4028234e38; // about -FLT_MAX: finite, so exp(LOWEST - LOWEST) = 1, not NaN

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let lane = li % TEAM;
  let row = wid.y * p.row_width + wid.x * ROWS + li / TEAM;
  // invocations of a missing row still join the team reduction
  let n = select(0u, p.row_vecs, row < p.rows);
  let at = row * p.row_vecs;

  var ms = vec2f(LOWEST, 0.0);
  for (var j = lane; j < n; j += TEAM) {
    let v = VF(x[at + j]) * p.scale;
    let m = max(ms.x, hmax(v));
    ms = vec2f(m, ms.y * exp(ms.x - m) + hsum(exp(v - VF(m))));
  }
  let total = team_softmax(ms, li);

  for (var j = lane; j < n; j += TEAM) {
    out[at + j] = VS(exp(VF(x[at + j]) * p.scale - VF(total.x)) / total.y);
  }
}

// Softmax over the last dim of x·scale, max-subtracted, f32 math: a team of TEAM invocations per
// row. Rows that fit in registers (CACHED) are read once; longer ones are read three times.
// Expects from the prelude: T, VS/VF, hsum, hmax, W, WG, TEAM, ITEMS, CACHED, team_sum, team_max.

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
const LOWEST: f32 = -3.4028234e38; // about -FLT_MAX

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let lane = li % TEAM;
  let row = wid.y * p.row_width + wid.x * ROWS + li / TEAM;
  // invocations of a missing row still join the team reductions (they hold barriers)
  let n = select(0u, p.row_vecs, row < p.rows);
  let base = row * p.row_vecs;

  var cache: array<VF, ITEMS>;
  var m = LOWEST;
  if (CACHED) {
    for (var k = 0u; k < ITEMS; k++) {
      let j = lane + k * TEAM;
      if (j < n) {
        cache[k] = VF(x[base + j]) * p.scale;
        m = max(m, hmax(cache[k]));
      }
    }
  } else {
    for (var j = lane; j < n; j += TEAM) { m = max(m, hmax(VF(x[base + j]) * p.scale)); }
  }
  let row_max = team_max(m, li);

  var s = 0.0;
  if (CACHED) {
    for (var k = 0u; k < ITEMS; k++) {
      if (lane + k * TEAM < n) {
        cache[k] = exp(cache[k] - VF(row_max));
        s += hsum(cache[k]);
      }
    }
  } else {
    for (var j = lane; j < n; j += TEAM) { s += hsum(exp(VF(x[base + j]) * p.scale - VF(row_max))); }
  }
  let row_sum = team_sum(s, li);

  if (CACHED) {
    for (var k = 0u; k < ITEMS; k++) {
      let j = lane + k * TEAM;
      if (j < n) { out[base + j] = VS(cache[k] / row_sum); }
    }
  } else {
    for (var j = lane; j < n; j += TEAM) {
      out[base + j] = VS(exp(VF(x[base + j]) * p.scale - VF(row_max)) / row_sum);
    }
  }
}

// Layer norm over the last dim: a team of TEAM invocations per row. Rows that fit in registers
// (CACHED) are read once. Corrected two-pass statistics: mean m₁, then d = x − m₁ gives the
// residual mean r = Σd/n and the variance (Σd² − (Σd)²/n)/n, and y = (d − r)·rstd·gamma + beta,
// so a large mean offset (100 + noise) costs no precision.
// Expects from the prelude: T, VS/VF, VP (gamma/beta vectors), hsum, W, WG, TEAM, ITEMS, CACHED,
// team_sum, team_sum2.

struct Params {
  rows: u32,
  row_vecs: u32,  // C / W
  row_width: u32, // rows per row of the 2-D grid of workgroups
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
@group(0) @binding(2) var<storage, read> gamma: array<VP>;
@group(0) @binding(3) var<storage, read> beta: array<VP>;
@group(0) @binding(4) var<storage, read_write> out: array<VS>;

const ROWS: u32 = WG / TEAM;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let lane = li % TEAM;
  let row = wid.y * p.row_width + wid.x * ROWS + li / TEAM;
  // invocations of a missing row still join the team reductions (they hold barriers)
  let n = select(0u, p.row_vecs, row < p.rows);
  let at = row * p.row_vecs;
  let cols = f32(p.row_vecs * W);

  var cache: array<VF, ITEMS>;
  var s = 0.0;
  if (CACHED) {
    for (var k = 0u; k < ITEMS; k++) {
      let j = lane + k * TEAM;
      if (j < n) {
        cache[k] = VF(x[at + j]);
        s += hsum(cache[k]);
      }
    }
  } else {
    for (var j = lane; j < n; j += TEAM) { s += hsum(VF(x[at + j])); }
  }
  let m1 = team_sum(s, li) / cols;

  var d = vec2f(0.0);
  if (CACHED) {
    for (var k = 0u; k < ITEMS; k++) {
      if (lane + k * TEAM < n) {
        cache[k] -= VF(m1);
        d += vec2f(hsum(cache[k]), hsum(cache[k] * cache[k]));
      }
    }
  } else {
    for (var j = lane; j < n; j += TEAM) {
      let dv = VF(x[at + j]) - VF(m1);
      d += vec2f(hsum(dv), hsum(dv * dv));
    }
  }
  let sums = team_sum2(d, li);
  let residual = sums.x / cols;
  let rstd = inverseSqrt(max(sums.y - sums.x * residual, 0.0) / cols + p.eps);

  if (CACHED) {
    for (var k = 0u; k < ITEMS; k++) {
      let j = lane + k * TEAM;
      if (j < n) { out[at + j] = VS((cache[k] - VF(residual)) * rstd * VF(gamma[j]) + VF(beta[j])); }
    }
  } else {
    for (var j = lane; j < n; j += TEAM) {
      out[at + j] = VS(((VF(x[at + j]) - VF(m1)) - VF(residual)) * rstd * VF(gamma[j]) + VF(beta[j]));
    }
  }
}

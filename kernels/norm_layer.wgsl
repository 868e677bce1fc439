// Layer norm over the last dim: a team of TEAM invocations per row. Values are shifted by the mean
// of the row's first vector, so an offset like 100 + noise costs no precision; each invocation
// folds its vectors (two-pass within a vector) into running (count, mean, M2) with Chan et al.'s
// update, one team reduction merges them, and a second sweep (from cache) writes the output.
// Expects from the prelude: T, VS/VF, VP (gamma/beta vectors), hsum, W, WG, TEAM, team_moments.

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
  // invocations of a missing row still join the team reduction
  let live = row < p.rows;
  let n = select(0u, p.row_vecs, live);
  let at = row * p.row_vecs;
  var shift = 0.0;
  if (live) { shift = hsum(VF(x[at])) / f32(W); }

  var m = vec4f(0.0); // (count, mean, M2, -) of x − shift over this invocation's vectors
  for (var j = lane; j < n; j += TEAM) {
    let v = VF(x[at + j]) - VF(shift);
    let vm = hsum(v) / f32(W);
    let d = v - VF(vm);
    m = team_combine(m, vec4f(f32(W), vm, hsum(d * d), 0.0), TEAM_MOMENTS);
  }
  let stats = team_moments(m.xyz, li);
  let rstd = inverseSqrt(stats.z / f32(p.row_vecs * W) + p.eps);

  for (var j = lane; j < n; j += TEAM) {
    let y = ((VF(x[at + j]) - VF(shift)) - VF(stats.y)) * rstd;
    out[at + j] = VS(y * VF(gamma[j]) + VF(beta[j]));
  }
}

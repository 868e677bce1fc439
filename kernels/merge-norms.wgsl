// Euclidean norm of every token: norms[row] = sqrt(Σ_c x[row, c]²) in f32, one workgroup per row.
// These are the denominators of the cosine similarities in bipartite token matching.
// Expects from the prelude: T, WG (a power of two).

struct Params {
  rows: u32,
  channels: u32,
  row_width: u32, // workgroups per row of the 2-D grid (one workgroup per token)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.y * p.row_width + wid.x;
  // the same for the whole workgroup, so returning keeps the barriers below uniform
  if (row >= p.rows) { return; }
  var s = 0.0;
  for (var c = li; c < p.channels; c += WG) {
    let v = f32(x[row * p.channels + c]);
    s += v * v;
  }
  partial[li] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { partial[li] += partial[li + stride]; }
    workgroupBarrier();
  }
  if (li == 0u) { norms[row] = sqrt(partial[0]); }
}

// Gathers tokens of one side of a bipartite split as unit vectors, so their cosine similarities
// become one matrix product: out[b, i, c] = x[b, idx[i0 + i], c] / ‖x[b, idx[i0 + i]]‖, with a
// zero token kept at zero (similarity 0, as merge-best-match.wgsl). One thread per output element.
// Expects from the prelude: T.

struct Params {
  tokens: u32,   // N: tokens per batch row of x
  channels: u32,
  first: u32,    // i0: the first index of idx gathered
  count: u32,    // indices gathered per batch row
  stride: u32,   // idx elements between batch rows (0: one split for every row)
  batch: u32,
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> norms: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.y * p.row_width + gid.x;
  if (e >= p.batch * p.count * p.channels) { return; }
  let c = e % p.channels;
  let i = (e / p.channels) % p.count;
  let b = e / (p.channels * p.count);
  let row = b * p.tokens + idx[b * p.stride + p.first + i];
  let n = norms[row];
  out[e] = T(select(f32(x[row * p.channels + c]) / n, 0.0, n == 0.0));
}

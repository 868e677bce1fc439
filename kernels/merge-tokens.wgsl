// The merge itself (tomesd's merge with mode "mean"): out[b] = [unmerged sources in rank order,
// then every destination averaged with the sources merged into it]. For destination j with merged
// sources s_1..s_c (grouped by merge-group.wgsl, in rank order):
//   out = (x[dst_j] + x[s_1] + … + x[s_c]) / (1 + c)
// summed in that order in f32, as torch's scatter_reduce(…, "mean", include_self=True) does.
// One invocation per output value. r comes from merge_r() (appended by the wrapper): the uniform,
// or a count a kernel left on the GPU; out then has a fixed capacity of rows and those past the
// merged sequence get zeros.
// Expects from the prelude: T.

struct Params {
  total: u32,      // B · out_rows · C output values
  tokens: u32,
  channels: u32,
  n_src: u32,
  n_dst: u32,
  r: u32,          // when merge_r() is not on the GPU
  src_stride: u32, // n_src when every batch row has its own split, 0 when one split serves all
  dst_stride: u32,
  group_stride: u32, // r rounded up to at least 1: the row length of `grouped`
  row_width: u32,  // invocations per row of the 2-D grid
  out_rows: u32,   // rows per batch row of out: n_src − r + n_dst, or the capacity N
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read> dst: array<u32>;
@group(0) @binding(4) var<storage, read> order: array<u32>;
@group(0) @binding(5) var<storage, read> grouped: array<u32>;
@group(0) @binding(6) var<storage, read> seg_end: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.y * p.row_width + gid.x;
  if (e >= p.total) { return; }
  let r = merge_r();
  let unmerged = p.n_src - r;
  let c = e % p.channels;
  let q = (e / p.channels) % p.out_rows;
  let b = e / (p.channels * p.out_rows);
  if (q >= unmerged + p.n_dst) {
    out[e] = T(0.0);
    return;
  }
  let x_row = b * p.tokens;
  if (q < unmerged) {
    let i = order[b * p.n_src + r + q];
    out[e] = x[(x_row + src[b * p.src_stride + i]) * p.channels + c];
    return;
  }
  let j = q - unmerged;
  var start = 0u;
  if (j > 0u) { start = seg_end[b * p.n_dst + j - 1u]; }
  let end = seg_end[b * p.n_dst + j];
  var acc = f32(x[(x_row + dst[b * p.dst_stride + j]) * p.channels + c]);
  for (var s = start; s < end; s++) {
    let i = grouped[b * p.group_stride + s];
    acc += f32(x[(x_row + src[b * p.src_stride + i]) * p.channels + c]);
  }
  out[e] = T(acc / f32(1u + end - start));
}

// Where each token of the full grid finds its value in the merged sequence [unmerged sources in
// rank order, then destinations]: pos[b, token] for the unmerge gather.
//   destination j           → (n_src − r) + j
//   source i, rank_i >= r   → rank_i − r                     (kept as itself)
//   source i, rank_i <  r   → (n_src − r) + best_dst_i       (takes its destination's value)
// One invocation per source or destination; tokens are a permutation, so every write is distinct.
// r comes from merge_r() (appended by the wrapper): the uniform, or a count a kernel left on the GPU.

struct Params {
  tokens: u32,
  n_src: u32,
  n_dst: u32,
  r: u32,           // when merge_r() is not on the GPU
  src_stride: u32, // n_src when every batch row has its own split, 0 when one split serves all
  dst_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rank: array<u32>;
@group(0) @binding(2) var<storage, read> best_dst: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<u32>;
@group(0) @binding(4) var<storage, read> dst: array<u32>;
@group(0) @binding(5) var<storage, read_write> pos: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.y;
  let i = gid.x;
  let r = merge_r();
  let unmerged = p.n_src - r;
  if (i < p.n_src) {
    let k = rank[b * p.n_src + i];
    let at = select(unmerged + best_dst[b * p.n_src + i], k - r, k >= r);
    pos[b * p.tokens + src[b * p.src_stride + i]] = at;
  } else if (i < p.n_src + p.n_dst) {
    let j = i - p.n_src;
    pos[b * p.tokens + dst[b * p.dst_stride + j]] = unmerged + j;
  }
}

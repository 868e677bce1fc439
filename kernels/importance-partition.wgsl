// The split of importance-based token merging, from each image's draw rank (rankDescending of
// importance-draw's keys: pool tokens hold ranks 0..pool−1 in random order, the others pool..N−1
// in token order). For batch row b (image b mod images, so both CFG halves share one split):
//   draw rank k < n_dst      → destination  dst[b, k]                          (random pool tokens)
//   n_dst ≤ k < pool         → pool source  src[b, (N − pool) + (k − n_dst)]    (random order)
//   k ≥ pool                 → forced source src[b, k − pool]                   (token order)
// so the N − pool tokens outside the pool come first among the sources (they are always merged).
// Ranks are a permutation per row, so every write is distinct. One invocation per (token, row).

struct Params {
  tokens: u32, // N
  images: u32,
  pool: u32,
  n_dst: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> draw_rank: array<u32>; // [images, N]
@group(0) @binding(2) var<storage, read_write> dst: array<u32>; // [B, n_dst]
@group(0) @binding(3) var<storage, read_write> src: array<u32>; // [B, N − n_dst]

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  let b = gid.y;
  if (t >= p.tokens) { return; }
  let n_src = p.tokens - p.n_dst;
  let k = draw_rank[(b % p.images) * p.tokens + t];
  if (k < p.n_dst) {
    dst[b * p.n_dst + k] = t;
  } else if (k < p.pool) {
    src[b * n_src + (p.tokens - p.pool) + (k - p.n_dst)] = t;
  } else {
    src[b * n_src + (k - p.pool)] = t;
  }
}

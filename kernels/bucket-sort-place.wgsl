// Stable bucket sort, pass 3 (see bucket-sort.ts): every position's item goes to its slot,
// bucket start + the bucket's count in earlier chunks + its rank within the chunk.
// Appended: fn seq_limit() -> u32.

struct Params {
  n: u32,
  buckets: u32,
  chunks: u32,
  stride: u32, // row length of `sorted`
  limit: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sequence: array<u32>;
@group(0) @binding(2) var<storage, read> bucket_of: array<u32>;
@group(0) @binding(3) var<storage, read> local_rank: array<u32>;
@group(0) @binding(4) var<storage, read> chunk_count: array<u32>;
@group(0) @binding(5) var<storage, read> bucket_end: array<u32>;
@group(0) @binding(6) var<storage, read_write> sorted: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.y;
  let k = wid.x * 256u + li;
  if (k >= min(p.n, seq_limit())) { return; }
  let item = sequence[row * p.n + k];
  let d = bucket_of[row * p.n + item];
  var start = 0u;
  if (d > 0u) { start = bucket_end[row * p.buckets + d - 1u]; }
  let slot = start + chunk_count[(row * p.chunks + wid.x) * p.buckets + d] + local_rank[row * p.n + k];
  sorted[row * p.stride + slot] = item;
}

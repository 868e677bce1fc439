// Stable bucket sort, pass 1 (see bucket-sort.ts). The sequence (items by position) is cut
// into chunks of 256 positions; per position, its rank among the earlier positions of its chunk
// that share its bucket, and per (chunk, bucket) the chunk's count, written by the bucket's last
// position in the chunk into a zeroed [B, chunks, buckets] table. 256² comparisons per chunk
// whatever the distribution, so crowded buckets cost no more than spread ones.
// Appended: fn seq_limit() -> u32 (positions at or past it take no part).

struct Params {
  n: u32,        // items (= positions) per batch row
  buckets: u32,
  chunks: u32,   // ceil(n / 256)
  limit: u32,    // the host's limit, when seq_limit() does not read one from the GPU
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sequence: array<u32>;  // [B, n] the item at each position
@group(0) @binding(2) var<storage, read> bucket_of: array<u32>; // [B, n] each item's bucket
@group(0) @binding(3) var<storage, read_write> local_rank: array<u32>; // [B, n] by position
@group(0) @binding(4) var<storage, read_write> chunk_count: array<u32>; // [B, chunks, buckets]

const SKIP: u32 = 0xffffffffu;

var<workgroup> tile: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.y;
  let k = wid.x * 256u + li;
  var mine = SKIP;
  if (k < min(p.n, seq_limit())) { mine = bucket_of[row * p.n + sequence[row * p.n + k]]; }
  tile[li] = mine;
  workgroupBarrier();
  if (mine == SKIP) { return; }
  var before = 0u;
  var last = true;
  for (var j = 0u; j < 256u; j++) {
    let same = tile[j] == mine;
    before += select(0u, 1u, same && j < li);
    last = last && !(same && j > li);
  }
  local_rank[row * p.n + k] = before;
  if (last) { chunk_count[(row * p.chunks + wid.x) * p.buckets + mine] = before + 1u; }
}

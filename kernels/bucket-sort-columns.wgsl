// Stable bucket sort, pass 2a (see bucket-sort.ts): for every bucket, its chunk counts become
// exclusive prefix sums over the chunks (in place), and its total is written.

struct Params {
  n: u32,
  buckets: u32,
  chunks: u32,
  batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> chunk_count: array<u32>; // [B, chunks, buckets]
@group(0) @binding(2) var<storage, read_write> bucket_end: array<u32>;  // [B, buckets]

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let d = gid.x;
  let row = gid.y;
  if (d >= p.buckets || row >= p.batch) { return; }
  var run = 0u;
  for (var c = 0u; c < p.chunks; c++) {
    let at = (row * p.chunks + c) * p.buckets + d;
    let v = chunk_count[at];
    chunk_count[at] = run;
    run += v;
  }
  bucket_end[row * p.buckets + d] = run;
}


// Stable bucket sort, pass 2b (see bucket-sort.ts): one workgroup per batch row turns the bucket
// totals into inclusive ends (bucket d owns sorted slots bucket_end[d - 1] .. bucket_end[d]).

struct Params {
  n: u32,
  buckets: u32,
  chunks: u32,
  batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> bucket_end: array<u32>; // [B, buckets]

var<workgroup> partial: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x;
  let per = (p.buckets + 255u) / 256u;
  let first = li * per;
  let last = min(first + per, p.buckets);
  var s = 0u;
  for (var d = first; d < last; d++) { s += bucket_end[row * p.buckets + d]; }
  partial[li] = s;
  workgroupBarrier();
  // Hillis-Steele inclusive scan of the 256 partial sums
  for (var off = 1u; off < 256u; off *= 2u) {
    var v = partial[li];
    if (li >= off) { v += partial[li - off]; }
    workgroupBarrier();
    partial[li] = v;
    workgroupBarrier();
  }
  var run = select(0u, partial[li - 1u], li > 0u);
  for (var d = first; d < last; d++) {
    run += bucket_end[row * p.buckets + d];
    bucket_end[row * p.buckets + d] = run;
  }
}

// Sources of a bipartite split as the complement of its destinations: src[row] = every token of
// 0..N that is not in dst[row], in increasing order. One workgroup per split row: mark the
// destinations in a scratch flag array, then compact the unmarked tokens with a workgroup prefix
// sum, 1024 tokens per step. Destinations must be distinct (n_src = N − n_dst).

struct Params {
  tokens: u32, // N
  n_dst: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dst: array<u32>;
@group(0) @binding(2) var<storage, read_write> flags: array<u32>; // scratch [rows, N]
@group(0) @binding(3) var<storage, read_write> src: array<u32>;

const PER: u32 = 4u; // tokens per invocation per step

var<workgroup> scan: array<u32, 256>;
var<workgroup> base: u32;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x;
  let f0 = row * p.tokens;
  let n_src = p.tokens - p.n_dst;
  for (var t = li; t < p.tokens; t += 256u) { flags[f0 + t] = 0u; }
  storageBarrier();
  for (var j = li; j < p.n_dst; j += 256u) { flags[f0 + dst[row * p.n_dst + j]] = 1u; }
  storageBarrier();
  if (li == 0u) { base = 0u; }
  workgroupBarrier();
  for (var t0 = 0u; t0 < p.tokens; t0 += 256u * PER) {
    let first = t0 + li * PER;
    var keep: array<bool, PER>;
    var mine = 0u;
    for (var q = 0u; q < PER; q++) {
      let t = first + q;
      keep[q] = t < p.tokens && flags[f0 + min(t, p.tokens - 1u)] == 0u;
      mine += select(0u, 1u, keep[q]);
    }
    // inclusive Hillis–Steele scan of the per-invocation counts
    scan[li] = mine;
    workgroupBarrier();
    for (var d = 1u; d < 256u; d *= 2u) {
      var v = scan[li];
      if (li >= d) { v += scan[li - d]; }
      workgroupBarrier();
      scan[li] = v;
      workgroupBarrier();
    }
    var at = base + scan[li] - mine;
    for (var q = 0u; q < PER; q++) {
      if (keep[q]) {
        src[row * n_src + at] = first + q;
        at++;
      }
    }
    workgroupBarrier();
    if (li == 255u) { base += scan[255]; }
    workgroupBarrier();
  }
}

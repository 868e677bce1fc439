// Groups the merged sources by destination, deterministically: source i is merged when its rank
// (descending similarity) is below r; merged sources are ordered by (destination, rank) — the
// order in which torch's scatter_reduce adds them — with a stable counting sort:
//   grouped[b, slot_i] = i,  slot_i = #{ merged i' : (dst_i', rank_i') < (dst_i, rank_i) }
//   seg_end[b, j]      = #{ merged i' : dst_i' <= j }   (destination j owns slots seg_end[j-1]..seg_end[j])
// Invocation t computes slot_t (t < n_src) and seg_end[t] (t < n_dst) in one sweep over the sources.

struct Params {
  n_src: u32,
  n_dst: u32,
  r: u32,        // merged sources per batch row (>= 1)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rank: array<u32>;
@group(0) @binding(2) var<storage, read> best_dst: array<u32>;
@group(0) @binding(3) var<storage, read_write> grouped: array<u32>;
@group(0) @binding(4) var<storage, read_write> seg_end: array<u32>;

const UNMERGED: u32 = 0xffffffffu; // destination key of a source that is not merged: after every j

var<workgroup> tile_dst: array<u32, 256>;
var<workgroup> tile_rank: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.y * p.n_src;
  let t = wid.x * 256u + li;
  var my_dst = UNMERGED;
  var my_rank = 0u;
  if (t < p.n_src) {
    my_rank = rank[row + t];
    if (my_rank < p.r) { my_dst = best_dst[row + t]; }
  }
  var slot = 0u;
  var upto = 0u;
  for (var t0 = 0u; t0 < p.n_src; t0 += 256u) {
    let i = t0 + li;
    var d = UNMERGED;
    var rk = 0u;
    if (i < p.n_src) {
      rk = rank[row + i];
      if (rk < p.r) { d = best_dst[row + i]; }
    }
    tile_dst[li] = d;
    tile_rank[li] = rk;
    workgroupBarrier();
    let len = min(256u, p.n_src - t0);
    for (var k = 0u; k < len; k++) {
      let kd = tile_dst[k];
      slot += select(0u, 1u, kd < my_dst || (kd == my_dst && tile_rank[k] < my_rank));
      upto += select(0u, 1u, kd <= t);
    }
    workgroupBarrier();
  }
  if (my_dst != UNMERGED) { grouped[wid.y * p.r + slot] = t; }
  if (t < p.n_dst) { seg_end[wid.y * p.n_dst + t] = upto; }
}

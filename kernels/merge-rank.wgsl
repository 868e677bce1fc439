// Descending rank of every key within its batch row, by counting:
//   rank_i = #{ j : k_j > k_i, or k_j == k_i and j < i }
// exact and order-independent (equal keys keep index order, as a stable descending sort would).
// Also writes the inverse permutation, the sorted order: order[b, rank_i] = i (tomesd's edge_idx).
// O(n²) comparisons per row, staged through workgroup memory 256 keys at a time.

struct Params {
  n: u32, // keys per batch row
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> keys: array<f32>;
@group(0) @binding(2) var<storage, read_write> rank: array<u32>;
@group(0) @binding(3) var<storage, read_write> order: array<u32>;

var<workgroup> tile: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.y * p.n;
  let i = wid.x * 256u + li;
  var mine = 0.0;
  if (i < p.n) { mine = keys[row + i]; }
  var count = 0u;
  for (var t0 = 0u; t0 < p.n; t0 += 256u) {
    let j = t0 + li;
    var v = 0.0;
    if (j < p.n) { v = keys[row + j]; }
    tile[li] = v;
    workgroupBarrier();
    let len = min(256u, p.n - t0);
    for (var jj = 0u; jj < len; jj++) {
      let k = tile[jj];
      count += select(0u, 1u, k > mine || (k == mine && t0 + jj < i));
    }
    workgroupBarrier();
  }
  if (i < p.n) {
    rank[row + i] = count;
    order[row + count] = i;
  }
}

// ToMA assignment weights, one workgroup per (tile, batch), from the tile's cosine similarities and
// its destinations (as in the reference's tile_attention_merge): logits A[d, j] = scale · S[dst_d, j],
// softmax over the tile's destinations d for every token j (scale 1000 makes it nearly a hard
// assignment). Writes
//   unmerge_w[b, token(j), d] = A[d, j]                 (Aᵀ: each token's weights over destinations, sum 1)
//   merge_w[b, dst_offset + d, j] = A[d, j] / Σ_j A[d, j]  (each merged token a weighted mean of its tile)
// zero-padded to DMAX destinations / NMAX tokens.
// Expects from the prelude: T (storage type of the weights), WG, CAP (≥ NMAX), the toma-layout helpers.

struct Params {
  grid: TileGrid,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sim: array<f32>;
@group(0) @binding(2) var<storage, read> dst: array<u32>;
@group(0) @binding(3) var<storage, read_write> merge_w: array<T>;
@group(0) @binding(4) var<storage, read_write> unmerge_w: array<T>;

var<workgroup> dst_row: array<u32, CAP>; // sim offset of each destination's row
var<workgroup> col_max: array<f32, CAP>;
var<workgroup> col_inv: array<f32, CAP>;

fn logit(d: u32, j: u32) -> f32 {
  return p.scale * sim[dst_row[d] + j];
}

fn weight(d: u32, j: u32) -> f32 {
  return exp(logit(d, j) - col_max[j]) * col_inv[j];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = p.grid;
  let t = wid.x;
  let b = wid.y;
  let tile = grid_tile(g, t);
  let n = tile.n;
  let dt = tile.dst_count;
  let base = (b * grid_tiles(g) + t) * g.nmax * g.nmax;
  for (var d = lid; d < dt; d += WG) {
    dst_row[d] = base + token_tile(g, dst[b * g.dsts + tile.dst_offset + d]).y * g.nmax;
  }
  workgroupBarrier();
  for (var j = lid; j < n; j += WG) {
    var m = logit(0u, j);
    for (var d = 1u; d < dt; d++) { m = max(m, logit(d, j)); }
    var sum = 0.0;
    for (var d = 0u; d < dt; d++) { sum += exp(logit(d, j) - m); }
    col_max[j] = m;
    col_inv[j] = 1.0 / sum;
  }
  workgroupBarrier();
  for (var q = lid; q < n * g.dmax; q += WG) {
    let j = q / g.dmax;
    let d = q % g.dmax;
    var w = 0.0;
    if (d < dt) { w = weight(d, j); }
    unmerge_w[(b * g.tokens + tile_token(g, tile, j)) * g.dmax + d] = T(w);
  }
  for (var d = lid; d < dt; d += WG) {
    var count = 0.0;
    for (var j = 0u; j < n; j++) { count += weight(d, j); }
    // a destination that no token prefers (only possible with a huge scale) merges nothing
    let inv = select(0.0, 1.0 / count, count > 0.0);
    let row = (b * g.dsts + tile.dst_offset + d) * g.nmax;
    for (var j = 0u; j < g.nmax; j++) {
      var w = 0.0;
      if (j < n) { w = weight(d, j) * inv; }
      merge_w[row + j] = T(w);
    }
  }
}

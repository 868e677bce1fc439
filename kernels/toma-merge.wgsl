// ToMA merge: merged[b, m, c] = Σ_j merge_w[b, m, j] · x[b, token(t, j), c] over the tokens j of the
// tile t that holds destination m — the per-tile product (A / rowsum A) · x_tile, read straight from
// the grid-ordered tokens and written in merged order, so no gather pass and no padding rows.
// Expects from the prelude: T (storage type), the toma-layout helpers.

struct Params {
  grid: TileGrid,
  channels: u32,
  total: u32, // B·D·C
  row_width: u32, // threads per row of the 2-D dispatch
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> dst: array<u32>;
@group(0) @binding(3) var<storage, read> merge_w: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.y * p.row_width + gid.x;
  if (idx >= p.total) { return; }
  let g = p.grid;
  let c = idx % p.channels;
  let row = idx / p.channels; // b·D + m
  let b = row / g.dsts;
  let tile = grid_tile(g, token_tile(g, dst[row]).x);
  let weights = row * g.nmax;
  let tokens = b * g.tokens;
  var acc = 0.0;
  for (var j = 0u; j < tile.n; j++) {
    acc += f32(merge_w[weights + j]) * f32(x[(tokens + tile_token(g, tile, j)) * p.channels + c]);
  }
  out[idx] = T(acc);
}

// ToMA's hard view of its soft assignment, for observers: map[b, i] = the merged row of the
// destination with token i's largest unmerge weight (the first on ties), i.e.
// dst_offset(tile of i) + argmax_d unmerge_w[b, i, d] over the tile's destinations.
// Expects from the prelude: T (storage type of the weights), the toma-layout helpers.

struct Params {
  grid: TileGrid,
  total: u32, // B·N
  row_width: u32, // threads per row of the 2-D dispatch
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> unmerge_w: array<T>;
@group(0) @binding(2) var<storage, read_write> token_row: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.y * p.row_width + gid.x; // b·N + i
  if (row >= p.total) { return; }
  let g = p.grid;
  let tile = grid_tile(g, token_tile(g, row % g.tokens).x);
  let weights = row * g.dmax;
  var best = 0u;
  var best_w = f32(unmerge_w[weights]);
  for (var d = 1u; d < tile.dst_count; d++) {
    let w = f32(unmerge_w[weights + d]);
    if (w > best_w) {
      best = d;
      best_w = w;
    }
  }
  token_row[row] = tile.dst_offset + best;
}

// ToMA unmerge: out[b, i, c] = Σ_d unmerge_w[b, i, d] · y[b, dst_offset(t) + d, c] (+ residual[b, i, c])
// over the destinations d of the tile t holding token i — the per-tile product Aᵀ · merged, written
// back in grid order, with the block's residual add fused.
// Expects from the prelude: T (storage type), the toma-layout helpers.

struct Params {
  grid: TileGrid,
  channels: u32,
  total: u32, // B·N·C
  row_width: u32, // threads per row of the 2-D dispatch
  has_residual: u32, // a uniform flag rather than a constant keeps the binding in the 'auto' layout
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<T>;
@group(0) @binding(2) var<storage, read> unmerge_w: array<T>;
@group(0) @binding(3) var<storage, read> residual: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.y * p.row_width + gid.x;
  if (idx >= p.total) { return; }
  let g = p.grid;
  let c = idx % p.channels;
  let row = idx / p.channels; // b·N + i
  let b = row / g.tokens;
  let tile = grid_tile(g, token_tile(g, row % g.tokens).x);
  let weights = row * g.dmax;
  let merged = b * g.dsts + tile.dst_offset;
  var acc = 0.0;
  for (var d = 0u; d < tile.dst_count; d++) {
    acc += f32(unmerge_w[weights + d]) * f32(y[(merged + d) * p.channels + c]);
  }
  if (p.has_residual != 0u) { acc += f32(residual[idx]); }
  out[idx] = T(acc);
}

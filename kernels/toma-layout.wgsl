// ToMA tile geometry, shared by the toma-* kernels (prepended to each of them) and mirrored on the
// host by kernels/toma-layout.ts. Tokens are in row-major (y, x) order on a width x height grid; the
// grid is cut into tiles_x x tiles_y rectangles with column edges floor(tx * width / tiles_x) (rows
// alike), so tile sizes differ by at most one column / row. Tiles are numbered row-major. Within a
// tile, tokens are numbered row-major ("local" index). The N - r destinations are numbered tile by
// tile: tile t owns merged rows [dst_offset(t), dst_offset(t + 1)), at least one of them, the rest
// shared in proportion to the tile's token count.

struct TileGrid {
  width: u32,
  height: u32,
  tiles_x: u32,
  tiles_y: u32,
  tokens: u32,
  dsts: u32,
  // largest tile: tokens, destinations (the padded strides of the similarity and weight tensors)
  nmax: u32,
  dmax: u32,
}

struct Tile {
  x0: u32,
  y0: u32,
  w: u32,
  h: u32,
  n: u32,
  dst_offset: u32,
  dst_count: u32,
}

fn grid_tiles(g: TileGrid) -> u32 {
  return g.tiles_x * g.tiles_y;
}

// First merged row of tile t: t + floor((D - T) * (c_t - t) / (N - T)), c_t = tokens before tile t.
// Both factors are at most N - T, which the host keeps below 2^16, so the product fits in a u32.
fn tile_dst_offset(g: TileGrid, t: u32) -> u32 {
  let tiles = grid_tiles(g);
  if (t >= tiles) { return g.dsts; }
  let ty = t / g.tiles_x;
  let tx = t % g.tiles_x;
  let y0 = ty * g.height / g.tiles_y;
  let y1 = (ty + 1u) * g.height / g.tiles_y;
  let x0 = tx * g.width / g.tiles_x;
  let before = y0 * g.width + (y1 - y0) * x0;
  let spare_tokens = g.tokens - tiles;
  if (spare_tokens == 0u) { return t; }
  return t + (g.dsts - tiles) * (before - t) / spare_tokens;
}

fn grid_tile(g: TileGrid, t: u32) -> Tile {
  let ty = t / g.tiles_x;
  let tx = t % g.tiles_x;
  let x0 = tx * g.width / g.tiles_x;
  let x1 = (tx + 1u) * g.width / g.tiles_x;
  let y0 = ty * g.height / g.tiles_y;
  let y1 = (ty + 1u) * g.height / g.tiles_y;
  let offset = tile_dst_offset(g, t);
  return Tile(x0, y0, x1 - x0, y1 - y0, (x1 - x0) * (y1 - y0), offset, tile_dst_offset(g, t + 1u) - offset);
}

// Grid token index of a tile's local token j.
fn tile_token(g: TileGrid, tile: Tile, j: u32) -> u32 {
  return (tile.y0 + j / tile.w) * g.width + tile.x0 + j % tile.w;
}

// The tile holding grid token i (x) and i's local index in it (y). The tile column of x is the
// largest tx with floor(tx * width / tiles_x) <= x, i.e. ceil((x + 1) * tiles_x / width) - 1.
fn token_tile(g: TileGrid, i: u32) -> vec2u {
  let x = i % g.width;
  let y = i / g.width;
  let tx = ((x + 1u) * g.tiles_x + g.width - 1u) / g.width - 1u;
  let ty = ((y + 1u) * g.tiles_y + g.height - 1u) / g.height - 1u;
  let x0 = tx * g.width / g.tiles_x;
  let x1 = (tx + 1u) * g.width / g.tiles_x;
  let y0 = ty * g.height / g.tiles_y;
  return vec2u(ty * g.tiles_x + tx, (y - y0) * (x1 - x0) + x - x0);
}

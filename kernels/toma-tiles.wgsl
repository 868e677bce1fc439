// ToMA: groups tokens by tile and L2-normalises them, in f32 whatever the model dtype (the
// reference runs facility location on x.float()). One workgroup per output row (batch, tile, j):
// out[(b·T + t)·NMAX + j, :] = x[b, token(t, j), :] / max(‖x[b, token(t, j), :]‖, 1e-12), and zero
// rows for j past the tile's token count, so the batched similarity GEMM sees equal-sized tiles.
// Expects from the prelude: T (storage type), WG (threads, a power of two), the toma-layout helpers.

struct Params {
  grid: TileGrid,
  channels: u32,
  rows: u32, // B·T·NMAX
  row_width: u32, // workgroups per row of the 2-D dispatch
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * p.row_width + wid.x;
  if (row >= p.rows) { return; }
  let g = p.grid;
  let c = p.channels;
  let j = row % g.nmax;
  let bt = row / g.nmax;
  let tile = grid_tile(g, bt % grid_tiles(g));
  let b = bt / grid_tiles(g);
  let dst = row * c;
  if (j >= tile.n) {
    for (var k = lid; k < c; k += WG) { out[dst + k] = 0.0; }
    return;
  }
  let src = (b * g.tokens + tile_token(g, tile, j)) * c;
  var sum = 0.0;
  for (var k = lid; k < c; k += WG) {
    let v = f32(x[src + k]);
    sum += v * v;
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / max(sqrt(partial[0]), 1e-12);
  for (var k = lid; k < c; k += WG) { out[dst + k] = f32(x[src + k]) * inv; }
}

// Batched transpose [B, R, C] → [B, C, R] through 32×32 tiles in workgroup memory, so both the
// reads (along C) and the writes (along R) are coalesced. The tile row is padded to 33 floats to
// keep the column reads off one memory bank. Tiles are numbered row-major and folded into the
// x/y grid; the batch is z.
// Expects from the prelude: T.

struct Params {
  rows: u32,        // R
  cols: u32,        // C
  tiles_cols: u32,  // ceil(C / 32)
  tiles: u32,       // tiles per batch
  grid_x: u32,      // workgroups along x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

const TILE: u32 = 32u;
const STEP: u32 = 8u; // workgroup rows; each invocation moves TILE / STEP elements

var<workgroup> tile: array<f32, TILE * (TILE + 1u)>;

@compute @workgroup_size(TILE, STEP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = wid.y * p.grid_x + wid.x;
  if (t >= p.tiles) { return; }
  let r0 = (t / p.tiles_cols) * TILE;
  let c0 = (t % p.tiles_cols) * TILE;
  let base = wid.z * p.rows * p.cols;
  for (var k = 0u; k < TILE; k += STEP) {
    let r = r0 + lid.y + k;
    let c = c0 + lid.x;
    if (r < p.rows && c < p.cols) { tile[(lid.y + k) * (TILE + 1u) + lid.x] = f32(x[base + r * p.cols + c]); }
  }
  workgroupBarrier();
  for (var k = 0u; k < TILE; k += STEP) {
    let c = c0 + lid.y + k;
    let r = r0 + lid.x;
    if (r < p.rows && c < p.cols) { out[base + c * p.rows + r] = T(tile[lid.x * (TILE + 1u) + lid.y + k]); }
  }
}

// Random destinations of tomesd's grid split: one token per sx×sy cell of the top-left
// (h / sy)·sy × (w / sx)·sx region, picked by a counter-based hash of (seed, cell) — a stand-in
// for torch.randint that needs no host upload per call. dst[cell] = that token, cells row-major.

struct Params {
  width: u32,
  cells_x: u32, // w / sx
  cells: u32,   // (h / sy) · (w / sx)
  sx: u32,
  sy: u32,
  seed: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

// PCG output permutation (O'Neill): a well-mixed 32-bit hash
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let cell = gid.x;
  if (cell >= p.cells) { return; }
  let pick = pcg(p.seed ^ pcg(cell)) % (p.sx * p.sy);
  let cy = cell / p.cells_x;
  let cx = cell % p.cells_x;
  dst[cell] = (cy * p.sy + pick / p.sx) * p.width + cx * p.sx + pick % p.sx;
}

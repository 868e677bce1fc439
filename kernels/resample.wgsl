// Nearest-neighbour 2× upsample of [planes, H, W]: one invocation per input element writes the
// 2×2 block it becomes as two vec2 stores (output rows have even length, so they are aligned).
// Expects from the prelude: T.

struct Params {
  n: u32,         // input elements
  width: u32,     // W
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<T>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let line = i / p.width; // plane·H + y
  let col = i - line * p.width;
  let v = vec2<T>(x[i]);
  // output row 2·line starts at element 2·line·2W, i.e. vec2 index 2·line·W
  let at = 2u * line * p.width + col;
  out[at] = v;
  out[at + p.width] = v;
}

// A window of every plane of [planes, H, W]: out[q, y, x] = x[q, top + y, left + x].
// Expects from the prelude: T.

struct Params {
  n: u32,         // output elements
  out_w: u32,
  out_h: u32,
  in_w: u32,
  in_h: u32,
  top: u32,
  left: u32,
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let col = i % p.out_w;
  let line = i / p.out_w; // plane·out_h + y
  let y = line % p.out_h;
  let plane = line / p.out_h;
  out[i] = src[(plane * p.in_h + p.top + y) * p.in_w + p.left + col];
}

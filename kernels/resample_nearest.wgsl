// Nearest-neighbour resize of [planes, H, W] to [planes, OH, OW] with PyTorch's 'nearest' rule for
// an explicit output size: src = min(floor(dst · (in / out)), in − 1), the scale rounded to f32.
// Expects from the prelude: T.

struct Params {
  n: u32,         // output elements
  in_h: u32,
  in_w: u32,
  out_h: u32,
  out_w: u32,
  scale_h: f32,   // in_h / out_h as f32
  scale_w: f32,
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let ox = i % p.out_w;
  let rest = i / p.out_w;
  let oy = rest % p.out_h;
  let plane = rest / p.out_h;
  let sy = min(u32(floor(f32(oy) * p.scale_h)), p.in_h - 1u);
  let sx = min(u32(floor(f32(ox) * p.scale_w)), p.in_w - 1u);
  out[i] = x[(plane * p.in_h + sy) * p.in_w + sx];
}

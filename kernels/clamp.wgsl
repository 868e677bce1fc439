// out = min(max(x, lo), hi) elementwise in f32, W lanes per invocation.
// Expects from the prelude: T, VS/VF (lane aliases).

struct Params {
  n: u32,         // vectors
  row_width: u32, // invocations per row of the 2-D grid
  lo: f32,
  hi: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
@group(0) @binding(2) var<storage, read_write> out: array<VS>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  out[i] = VS(clamp(VF(x[i]), VF(p.lo), VF(p.hi)));
}

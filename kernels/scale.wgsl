// out = a·x + b·y + c·z elementwise with scalar coefficients, f32 math. p.inputs (1..3) says how many
// inputs take part; the wrapper binds x again in the unused slots. A uniform rather than a
// constant, so no compiler can drop an unused binding from the auto layout.
// Expects from the prelude: T, VS/VF (lane aliases).

struct Params {
  n: u32,         // vectors
  row_width: u32, // invocations per row of the 2-D grid
  inputs: u32,
  a: f32,
  b: f32,
  c: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
@group(0) @binding(2) var<storage, read> y: array<VS>;
@group(0) @binding(3) var<storage, read> z: array<VS>;
@group(0) @binding(4) var<storage, read_write> out: array<VS>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  var r = p.a * VF(x[i]);
  if (p.inputs >= 2u) { r += p.b * VF(y[i]); }
  if (p.inputs >= 3u) { r += p.c * VF(z[i]); }
  out[i] = VS(r);
}

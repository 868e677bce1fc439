// dtype conversion, elementwise. Expects from the prelude: VI (input vector), VO (output vector),
// VF (the same shape in f32), with f16 enabled.

struct Params {
  n: u32,         // vectors
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VI>;
@group(0) @binding(2) var<storage, read_write> out: array<VO>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  out[i] = VO(VF(x[i]));
}

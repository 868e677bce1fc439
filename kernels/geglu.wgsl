// GEGLU after its projection: row r of x holds [hidden (F) | gate (F)]; out[r, j] = hidden·gelu(gate).
// Expects from the prelude: T, VS/VF, gelu_f32_lanes (lane helpers), erf.wgsl + activations.wgsl.

struct Params {
  n: u32,         // output vectors
  half_vecs: u32, // F / W
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
@group(0) @binding(2) var<storage, read_write> out: array<VS>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let row = i / p.half_vecs;
  let at = i + row * p.half_vecs; // row * 2F + column
  let hidden = VF(x[at]);
  let gate = VF(x[at + p.half_vecs]);
  out[i] = VS(hidden * gelu_f32_lanes(gate));
}

// out = act(x) elementwise, W lanes per invocation.
// Expects from the prelude: T, VS/VF (lane aliases), act_lanes (lane helpers), the activation
// functions (erf.wgsl + activations.wgsl) and OP (0 silu, 1 gelu, 2 gelu_tanh, 3 quick_gelu).

struct Params {
  n: u32,         // vectors
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
@group(0) @binding(2) var<storage, read_write> out: array<VS>;

fn act(v: f32) -> f32 {
  var r: f32;
  switch OP {
    case 0u: { r = silu_f32(v); }
    case 1u: { r = gelu_f32(v); }
    case 2u: { r = gelu_tanh_f32(v); }
    default: { r = quick_gelu_f32(v); }
  }
  return r;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  out[i] = VS(act_lanes(VF(x[i])));
}

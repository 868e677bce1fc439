// Scalar activations in f32, shared by the elementwise kernels and available to matmul epilogues
// (prepend erf.wgsl and this file; kernels/unary.ts exports both as activationSource()).

fn silu_f32(x: f32) -> f32 {
  // exp(-x) overflows to +inf for x < -88, giving x / inf = -0, the right limit
  return x / (1.0 + exp(-x));
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)) (PyTorch's default, used by SD's GEGLU). */
fn gelu_f32(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_f32(x * 0.70710678118654752));
}

/** GELU with the tanh approximation (PyTorch approximate='tanh'). */
fn gelu_tanh_f32(x: f32) -> f32 {
  let u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
  // tanh saturates to ±1 in f32 well before 10; clamping keeps exp-based tanh lowerings off inf/inf
  return 0.5 * x * (1.0 + tanh(clamp(u, -10.0, 10.0)));
}

/** x·sigmoid(1.702x), CLIP's activation. */
fn quick_gelu_f32(x: f32) -> f32 {
  return x / (1.0 + exp(-1.702 * x));
}

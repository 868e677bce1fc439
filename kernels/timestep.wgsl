// diffusers get_timestep_embedding: out[b, j] = sin/cos(t[b]·freq[j]) laid out [sin | cos] (or
// [cos | sin] when FLIP), odd dim padded with one zero. freq comes from the host, rounded exactly
// as PyTorch's f32 ops round it; the product is rounded to f32 as PyTorch does; sin and cos use
// their own range reduction and polynomials because WGSL's sin/cos are only accurate near 0.
// Expects from the prelude: T.

struct Params {
  n: u32,         // B·dim
  dim: u32,
  half: u32,
  flip: u32,      // 1: cos first
  row_width: u32, // invocations per row of the 2-D grid
  zero: u32,      // always 0; see main
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> timesteps: array<f32>;
@group(0) @binding(2) var<storage, read> freqs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

// (sin a, cos a) to about 1 ulp for |a| < 12000: a = k·π/2 + r with π/2 split Cody–Waite style
// into P1 + P2 + P3 (8 and 11 significant bits, so k·P1 and k·P2 are exact for |k| < 2^13), then
// Taylor polynomials on |r| <= π/4 (truncation below 2e-9).
fn sin_cos(a: f32) -> vec2f {
  let k = round(a * 0.63661977236758134);
  var r = a - k * 1.5703125;
  r -= k * 4.837512969970703125e-4;
  r -= k * 7.54978995489188216e-8;
  let r2 = r * r;
  let s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0))));
  let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
  switch bitcast<u32>(i32(k)) & 3u {
    case 0u: { return vec2f(s, c); }
    case 1u: { return vec2f(c, -s); }
    case 2u: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let b = i / p.dim;
  let col = i - b * p.dim;
  if (col >= 2u * p.half) {
    out[i] = T(0.0);
    return;
  }
  let second = col >= p.half;
  let j = select(col, col - p.half, second);
  // XOR with a uniform zero the compiler cannot see through: the product is rounded to f32 here,
  // as in PyTorch, instead of being fused into the first step of the range reduction
  let arg = bitcast<f32>(bitcast<u32>(timesteps[b] * freqs[j]) ^ p.zero);
  let sc = sin_cos(arg);
  out[i] = T(select(sc.x, sc.y, second != (p.flip == 1u)));
}

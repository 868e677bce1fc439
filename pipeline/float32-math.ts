/**
 * Bit-exact float32 emulation of the vector log and sin/cos that PyTorch's x86
 * CPU build uses for torch.randn (aten/src/ATen/native/cpu/avx_mathfun.h, the
 * Cephes polynomials of Pommier's sse_mathfun ported to AVX2).
 *
 * Every float op is a double op rounded with Math.fround, which is correctly
 * rounded for +, -, *, sqrt of two floats (a double has more than 2·24+2 bits).
 * PyTorch's Linux wheels are built with GCC, whose default -ffp-contract=fast
 * fuses an `a*b` whose only use is an add into one FMA instruction (the AVX2
 * kernels are compiled with -mfma), so those steps go through fma32 below; where
 * two products feed one add, the first in statement order is the fused one.
 * Checked against torch 2.11 x86 output: with the fusions the values are
 * identical; without them about 1% of values differ by 1–2 ulp.
 */

const fr = Math.fround;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);
const LO = 0; // little-endian word order of a Float64Array's Uint32 view
const HI = 1;

/**
 * fround(a*b + c) with a single rounding, for float32 a, b, c. The product is
 * exact in a double; the sum is made exact-then-rounded-to-odd in double (TwoSum
 * plus a sticky bit), after which one fround rounds correctly to float32.
 */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0 || !Number.isFinite(s)) return fr(s);
  f64[0] = s;
  if ((u32[LO]! & 1) === 0) {
    // Round to odd: move s one double ulp toward the exact sum.
    const awayFromZero = err > 0 === s > 0;
    if (awayFromZero) u32[LO] = u32[LO]! + 1;
    else if (u32[LO] !== 0) u32[LO] = u32[LO]! - 1;
    else {
      u32[LO] = 0xffffffff;
      u32[HI] = u32[HI]! - 1;
    }
  }
  return fr(f64[0]);
}

const SQRTHF = fr(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(fr);
const LOG_Q1 = fr(-2.1219444e-4);
const LOG_Q2 = fr(0.693359375);

/** log256_ps for one lane, x > 0 and normal (the randn caller passes (0, 1]). */
export function logCephes(xIn: number): number {
  f32[0] = xIn;
  const bits = f32Bits[0]!;
  let e = fr((bits >>> 23) - 0x7f + 1);
  // Mantissa in [0.5, 1): keep sign/fraction bits, force the exponent of 0.5.
  f32Bits[0] = (bits & ~0x7f800000) | 0x3f000000;
  let x = f32[0]!;
  const below = x < SQRTHF;
  const tmp = below ? x : 0;
  x = fr(x - 1);
  if (below) e = fr(e - 1);
  x = fr(x + tmp);

  const z = fr(x * x);
  let y = LOG_P[0]!;
  for (let k = 1; k < LOG_P.length; k++) y = fma32(y, x, LOG_P[k]!);
  y = fr(y * x);
  y = fma32(y, z, fr(e * LOG_Q1));
  y = fr(y - fr(z * 0.5));
  return fr(fr(x + y) + fr(e * LOG_Q2));
}

const FOPI = fr(1.27323954473516);
const DP1 = fr(-0.78515625);
const DP2 = fr(-2.4187564849853515625e-4);
const DP3 = fr(-3.77489497744594108e-8);
const SINCOF = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(fr);
const COSCOF = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(fr);

/** sincos256_ps for one lane, x ≥ 0 (the randn caller passes [0, 2π)). Writes [sin, cos]. */
export function sinCosCephes(xIn: number, out: [number, number]): void {
  let x = Math.abs(xIn);
  // Octant j rounded up to even; its bits pick the polynomial and the signs.
  let j = Math.trunc(fr(x * FOPI)) | 0;
  j = (j + 1) & ~1;
  const y = fr(j);
  const sinNegative = ((j & 4) !== 0) !== xIn < 0;
  const cosNegative = ((j - 2) & 4) === 0;
  const sinFromSinPoly = (j & 2) === 0;

  // x - y·π/4 in three pieces (Cephes' extended-precision reduction).
  x = fma32(y, DP1, x);
  x = fma32(y, DP2, x);
  x = fma32(y, DP3, x);

  const z = fr(x * x);
  let c = COSCOF[0]!;
  c = fma32(c, z, COSCOF[1]!);
  c = fma32(c, z, COSCOF[2]!);
  c = fr(c * z);
  c = fma32(c, z, -fr(z * 0.5));
  c = fr(c + 1);

  let s = SINCOF[0]!;
  s = fma32(s, z, SINCOF[1]!);
  s = fma32(s, z, SINCOF[2]!);
  s = fr(s * z);
  s = fma32(s, x, x);

  const sinV = sinFromSinPoly ? s : c;
  const cosV = sinFromSinPoly ? c : s;
  out[0] = sinNegative ? -sinV : sinV;
  out[1] = cosNegative ? -cosV : cosV;
}

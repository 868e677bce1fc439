import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { activationSource, unary, type UnaryOp } from '../../kernels/unary.js';
import { Uniforms } from '../../runtime/uniforms.js';
import type { DType } from '../../runtime/dtype.js';

/**
 * erf in double precision from its everywhere-convergent series
 * erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), whose terms are all positive.
 */
function referenceErf(x: number): number {
  const a = Math.abs(x);
  if (a > 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 0; term > 1e-17 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 3);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

const reference: Record<UnaryOp, (x: number) => number> = {
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + referenceErf(x / Math.SQRT2)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  quick_gelu: (x) => x / (1 + Math.exp(-1.702 * x)),
};

t.test('erf_f32 is within 1e-6 of a double-precision erf', async (t) => {
  const rt = await testRuntime();
  const n = 4099;
  const xs = new Float32Array(n);
  for (let i = 0; i < n - 6; i++) xs[i] = -7 + (14 * i) / (n - 7);
  xs.set([0, 1e-8, -1e-4, 0.4999999, 0.5, 30], n - 6);
  const code = `${activationSource()}
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.n) { out[gid.x] = erf_f32(x[gid.x]); }
}`;
  const x = rt.upload(xs, [n]);
  const out = rt.empty([n]);
  rt.dispatch({ pipeline: rt.pipeline('erf_test', code), uniforms: new Uniforms().u32(n), bindings: [x, out], workgroups: [Math.ceil(n / 64)] });
  const got = await rt.read(out);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(got[i]! - referenceErf(xs[i]!));
    if (d > worst) [worst, at] = [d, xs[i]!];
  }
  t.ok(worst <= 1e-6, `max |erf error| ${worst.toExponential(2)} at x=${at}`);
  x.dispose();
  out.dispose();
});

t.test('unary activations match a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // 37: one element per invocation; 4x64: vec4 path
  const shapes = [[37], [4, 64]];
  for (const dtype of dtypes) {
    for (const op of Object.keys(reference) as UnaryOp[]) {
      for (const shape of shapes) {
        const n = shape.reduce((p, d) => p * d, 1);
        let xs = seededValues(n, 7, -6, 6);
        if (dtype === 'f16') xs = roundToF16(xs);
        const want = xs.map(reference[op]);
        const got = await rt.read(rt.tidy(() => unary(rt, op, rt.upload(xs, shape, dtype))));
        const err = maxRelError(got, want);
        t.ok(err <= KERNEL_TOLERANCE[dtype], `${op} ${dtype} [${shape}] max rel error ${err.toExponential(2)}`);
      }
    }
  }
});

t.test('unary rejects a mismatched out', async (t) => {
  const rt = await testRuntime();
  t.throws(() => rt.tidy(() => unary(rt, 'silu', rt.zeros([4]), rt.zeros([5]))), /unary silu: out is \[5\]/);
});

t.test('unary activations saturate without NaN or inf', async (t) => {
  const rt = await testRuntime();
  const xs = [-1000, -100, -30, 30, 100, 1000, 0, -0];
  for (const op of Object.keys(reference) as UnaryOp[]) {
    const got = await rt.read(rt.tidy(() => unary(rt, op, rt.upload(xs, [xs.length]))));
    const want = xs.map(reference[op]);
    const err = Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i]!) / Math.max(1, Math.abs(want[i]!))));
    t.ok(err <= 1e-6, `${op} at ±1000: ${Array.from(got).join(', ')}`);
  }
});

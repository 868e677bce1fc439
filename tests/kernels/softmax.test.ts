import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { Runtime } from '../../runtime/runtime.js';
import { softmax } from '../../kernels/softmax.js';
import type { DType } from '../../runtime/dtype.js';

function referenceSoftmax(x: Float32Array, cols: number, scale: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    let max = -Infinity;
    for (let i = 0; i < cols; i++) max = Math.max(max, x[base + i]! * scale);
    let sum = 0;
    for (let i = 0; i < cols; i++) sum += (out[base + i] = Math.exp(x[base + i]! * scale - max));
    for (let i = 0; i < cols; i++) out[base + i]! /= sum;
  }
  return out;
}

// [shape, scale, input range]: N=77 (scalar lanes, 32-wide teams), vec4 rows, a row per
// workgroup, a row too long for registers (re-read), one-element rows, large logits (needs the max)
const cases: [number[], number, number][] = [
  [[3, 77], 1, 4],
  [[2, 5, 64], 0.125, 40],
  [[3, 4096], 1, 8],
  [[2, 20000], 1, 8],
  [[5, 1], 1, 4],
  [[9, 37], 3, 40],
];

type Check = (ok: boolean, message: string) => void;

async function checkSoftmax(check: Check, rt: Runtime, label: string, dtypes: DType[]): Promise<void> {
  for (const dtype of dtypes) {
    for (const [shape, scale, range] of cases) {
      const n = shape.reduce((p, d) => p * d, 1);
      const cols = shape[shape.length - 1]!;
      let x = seededValues(n, 41, -range, range);
      if (dtype === 'f16') x = roundToF16(x);
      const want = referenceSoftmax(x, cols, scale);
      const got = await rt.read(rt.tidy(() => softmax(rt, rt.upload(x, shape, dtype), { scale })));
      // normalise per row: the bar is relative to each row's largest probability
      let err = 0;
      for (let base = 0; base < n; base += cols) {
        err = Math.max(err, maxRelError(got.subarray(base, base + cols), want.subarray(base, base + cols)));
      }
      check(err <= KERNEL_TOLERANCE[dtype], `${label} softmax ${dtype} [${shape}] scale ${scale}: max rel error ${err.toExponential(2)}`);
    }
  }
}

t.test('softmax matches a TS reference', async (t) => {
  const rt = await testRuntime();
  await checkSoftmax((ok, m) => t.ok(ok, m), rt, rt.features.subgroups ? 'subgroups' : 'plain', rt.features.f16 ? ['f32', 'f16'] : ['f32']);
});

t.test('softmax on the portable path (no subgroups, no f16)', async (t) => {
  const rt = await Runtime.create({ plain: true });
  await checkSoftmax((ok, m) => t.ok(ok, m), rt, 'plain', ['f32']);
  rt.destroy();
});

t.test('softmax handles -inf (masked) logits and writes into out', async (t) => {
  const rt = await testRuntime();
  const x = [0, -Infinity, 1, -Infinity, 2, 3, -Infinity, 0.5];
  const got = await rt.read(
    rt.tidy(() => {
      const out = rt.empty([2, 4]);
      softmax(rt, rt.upload(x, [2, 4]), { out });
      return out;
    }),
  );
  const want = referenceSoftmax(Float32Array.from(x), 4, 1);
  t.ok(maxRelError(got, want) <= 1e-6, `got ${Array.from(got).map((v) => v.toFixed(4)).join(' ')}`);
});

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { geglu } from '../../kernels/geglu.js';
import type { DType } from '../../runtime/dtype.js';

/** erf in double precision (positive-term series, no cancellation). */
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

function referenceGeglu(x: Float32Array, f: number): Float64Array {
  const rows = x.length / (2 * f);
  const out = new Float64Array(rows * f);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < f; j++) {
      const hidden = x[r * 2 * f + j]!;
      const gate = x[r * 2 * f + f + j]!;
      out[r * f + j] = hidden * 0.5 * gate * (1 + referenceErf(gate / Math.SQRT2));
    }
  }
  return out;
}

t.test('geglu matches a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // F = 37: scalar lanes; F = 64: vec4 lanes; rank 3 like the transformer's [B, tokens, 2F]
  const shapes = [[3, 74], [2, 5, 128]];
  for (const dtype of dtypes) {
    for (const shape of shapes) {
      const n = shape.reduce((p, d) => p * d, 1);
      const f = shape[shape.length - 1]! / 2;
      let x = seededValues(n, 51, -4, 4);
      if (dtype === 'f16') x = roundToF16(x);
      const want = referenceGeglu(x, f);
      const out = rt.tidy(() => rt.keep(geglu(rt, rt.upload(x, shape, dtype))));
      t.same(out.shape, [...shape.slice(0, -1), f], 'output shape');
      const err = maxRelError(await rt.read(out), want);
      out.dispose();
      t.ok(err <= KERNEL_TOLERANCE[dtype], `geglu ${dtype} [${shape}]: max rel error ${err.toExponential(2)}`);
    }
  }
});

t.test('geglu rejects an odd last dim', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => t.throws(() => geglu(rt, rt.zeros([2, 7])), /geglu: last dim of \[2, 7\] must be even/));
});

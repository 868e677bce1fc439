import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { axpby } from '../../kernels/scale.js';
import type { DType } from '../../runtime/dtype.js';

t.test('axpby with one, two and three inputs matches a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const [a, b, c] = [0.18215, -1.5, 7.5];
  for (const dtype of dtypes) {
    for (const shape of [[37], [2, 4, 8]]) {
      const n = shape.reduce((p, d) => p * d, 1);
      let [x, y, z] = [seededValues(n, 101), seededValues(n, 102), seededValues(n, 103)];
      if (dtype === 'f16') [x, y, z] = [roundToF16(x), roundToF16(y), roundToF16(z)];
      const wants = [x.map((v) => a * v), x.map((v, i) => a * v + b * y[i]!), x.map((v, i) => a * v + b * y[i]! + c * z[i]!)];
      for (let inputs = 1; inputs <= 3; inputs++) {
        const got = await rt.read(
          rt.tidy(() => {
            const [xt, yt, zt] = [x, y, z].map((v) => rt.upload(v, shape, dtype));
            if (inputs === 1) return axpby(rt, a, xt!);
            if (inputs === 2) return axpby(rt, a, xt!, b, yt);
            return axpby(rt, a, xt!, b, yt, c, zt);
          }),
        );
        const err = maxRelError(got, wants[inputs - 1]!);
        t.ok(err <= KERNEL_TOLERANCE[dtype], `axpby ${inputs} input(s) ${dtype} [${shape}]: max rel error ${err.toExponential(2)}`);
      }
    }
  }
});

t.test('axpby writes into out and refuses to alias an input', async (t) => {
  const rt = await testRuntime();
  const got = await rt.read(
    rt.tidy(() => {
      const x = rt.upload([1, 2, 3], [3]);
      const out = rt.empty([3]);
      axpby(rt, 2, x, 1, rt.upload([10, 20, 30], [3]), undefined, undefined, out);
      t.throws(() => axpby(rt, 2, x, undefined, undefined, undefined, undefined, x), /must not share a buffer/);
      return out;
    }),
  );
  t.same(got, Float32Array.from([12, 24, 36]));
});

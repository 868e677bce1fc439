import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { clamp } from '../../kernels/clamp.js';
import type { DType } from '../../runtime/dtype.js';

t.test('clamp matches Math.min/max on odd and vec4 sizes', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) {
    for (const shape of [[7, 13], [2, 4, 16, 16], [1]]) {
      const n = shape.reduce((p, d) => p * d, 1);
      let x = seededValues(n, 3, -50, 40);
      if (dtype === 'f16') x = roundToF16(x);
      const want = x.map((v) => Math.min(Math.max(v, -30), 20));
      const got = await rt.read(rt.tidy(() => clamp(rt, rt.upload(x, shape, dtype), -30, 20)));
      t.same([...got], [...want], `${dtype} ${shape.join('x')}: exact`);
    }
  }
  const x = rt.upload([1, 2], [2]);
  t.throws(() => clamp(rt, x, 1, 0), /lower bound 1 is above the upper bound 0/);
  x.dispose();
});

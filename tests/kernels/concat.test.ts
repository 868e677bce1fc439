import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { concatChannels } from '../../kernels/concat.js';
import type { DType } from '../../runtime/dtype.js';

t.test('channel concat matches a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // [B, Ca, Cb, H, W]: odd plane (scalar), blocks of 16 and 12 (vec4), an empty side
  const cases = [[2, 3, 2, 5, 7], [2, 4, 3, 2, 2], [2, 0, 3, 2, 3]];
  for (const dtype of dtypes) {
    for (const [b, ca, cb, h, w] of cases as [number, number, number, number, number][]) {
      const plane = h * w;
      let a = seededValues(b * ca * plane, 71);
      let bb = seededValues(b * cb * plane, 72);
      if (dtype === 'f16') [a, bb] = [roundToF16(a), roundToF16(bb)];
      const want: number[] = [];
      for (let n = 0; n < b; n++) {
        want.push(...a.subarray(n * ca * plane, (n + 1) * ca * plane), ...bb.subarray(n * cb * plane, (n + 1) * cb * plane));
      }
      const out = rt.tidy(() => rt.keep(concatChannels(rt, rt.upload(a, [b, ca, h, w], dtype), rt.upload(bb, [b, cb, h, w], dtype))));
      t.same(out.shape, [b, ca + cb, h, w], 'output shape');
      t.same(await rt.read(out), Float32Array.from(want), `concat ${dtype} [${b}, ${ca}|${cb}, ${h}, ${w}] is exact`);
      out.dispose();
    }
  }
});

t.test('concat rejects mismatched shapes', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => {
    t.throws(() => concatChannels(rt, rt.zeros([1, 2, 3, 3]), rt.zeros([1, 2, 3, 4])), /differ outside dim 1/);
    t.throws(() => concatChannels(rt, rt.zeros([2, 2, 3, 3]), rt.zeros([1, 2, 3, 3])), /differ outside dim 1/);
  });
});

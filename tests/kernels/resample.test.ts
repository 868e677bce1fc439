import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { upsampleNearest, upsampleNearest2x } from '../../kernels/resample.js';
import type { DType } from '../../runtime/dtype.js';

t.test('nearest 2x upsample copies each pixel into a 2x2 block', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) {
    for (const [b, c, h, w] of [[2, 3, 5, 7], [1, 2, 4, 4], [1, 1, 1, 1]] as [number, number, number, number][]) {
      let x = seededValues(b * c * h * w, 61);
      if (dtype === 'f16') x = roundToF16(x);
      const want = new Float32Array(b * c * 4 * h * w);
      for (let p = 0; p < b * c; p++) {
        for (let y = 0; y < 2 * h; y++) {
          for (let xx = 0; xx < 2 * w; xx++) want[(p * 2 * h + y) * 2 * w + xx] = x[(p * h + (y >> 1)) * w + (xx >> 1)]!;
        }
      }
      const out = rt.tidy(() => rt.keep(upsampleNearest2x(rt, rt.upload(x, [b, c, h, w], dtype))));
      t.same(out.shape, [b, c, 2 * h, 2 * w], 'output shape');
      t.same(await rt.read(out), want, `upsample ${dtype} [${b}, ${c}, ${h}, ${w}] is exact`);
      out.dispose();
    }
  }
});

t.test('upsample rejects a non-4-D input', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => t.throws(() => upsampleNearest2x(rt, rt.zeros([2, 3, 4])), /must be \[B, C, H, W\]/));
});

t.test('nearest resize to an explicit size follows torch (floor of dst·in/out in f32)', async (t) => {
  const rt = await testRuntime();
  // [in H, in W, out H, out W]: the U-Net's odd-size cases (5 → 9, 3 → 5) and a plain 2× request
  for (const [h, w, oh, ow] of [[5, 3, 9, 5], [4, 7, 7, 13], [2, 2, 4, 4], [3, 5, 3, 5]] as [number, number, number, number][]) {
    const [b, c] = [2, 3];
    const x = seededValues(b * c * h * w, 62);
    const sh = Math.fround(h / oh);
    const sw = Math.fround(w / ow);
    const want = new Float32Array(b * c * oh * ow);
    for (let p = 0; p < b * c; p++) {
      for (let y = 0; y < oh; y++) {
        const sy = Math.min(Math.floor(Math.fround(y * sh)), h - 1);
        for (let xx = 0; xx < ow; xx++) {
          const sx = Math.min(Math.floor(Math.fround(xx * sw)), w - 1);
          want[(p * oh + y) * ow + xx] = x[(p * h + sy) * w + sx]!;
        }
      }
    }
    const out = rt.tidy(() => rt.keep(upsampleNearest(rt, rt.upload(x, [b, c, h, w]), oh, ow)));
    t.same(out.shape, [b, c, oh, ow]);
    t.same(await rt.read(out), want, `resize ${h}x${w} → ${oh}x${ow} is exact`);
    out.dispose();
  }
});

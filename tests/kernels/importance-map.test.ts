import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { guidanceMagnitude } from '../../kernels/importance-map.js';
import { averagePoolImportance } from '../../kernels/importance-pool.js';
import { referenceGuidanceMagnitude, referencePool } from './importance-reference.js';

t.test('guidance magnitude ‖ε_cond − ε_uncond‖ over channels matches a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const cases: [number, number, number, number][] = [
    [2, 4, 13, 9],
    [6, 3, 5, 7],
    [2, 1, 1, 1],
  ];
  for (const dtype of dtypes) {
    for (const shape of cases) {
      const [batch, channels, height, width] = shape;
      let eps = seededValues(batch * channels * height * width, batch * 7 + height);
      if (dtype === 'f16') eps = roundToF16(eps);
      const out = rt.tidy(() => guidanceMagnitude(rt, rt.upload(eps, shape, dtype)));
      t.same(out.shape, [batch / 2, height, width], `${dtype} [${shape}]: shape`);
      const err = maxRelError(await rt.read(out), referenceGuidanceMagnitude(eps, shape));
      t.ok(err <= KERNEL_TOLERANCE[dtype], `${dtype} [${shape}]: max rel error ${err.toExponential(2)}`);
      out.dispose();
    }
  }
  t.throws(() => rt.tidy(() => guidanceMagnitude(rt, rt.zeros([3, 4, 2, 2], 'f32'))), /guidanceMagnitude.*\[3, 4, 2, 2\]/);
});

t.test('d×d average pooling onto the block grid, partial edge cells averaged over what they cover', async (t) => {
  const rt = await testRuntime();
  const cases: [number, number, number, number][] = [
    [2, 13, 9, 2],
    [1, 16, 16, 4],
    [3, 7, 5, 1],
    [1, 5, 3, 8],
  ];
  for (const [images, height, width, factor] of cases) {
    const map = seededValues(images * height * width, height * 31 + factor, 0, 3);
    const out = rt.tidy(() => averagePoolImportance(rt, rt.upload(map, [images, height, width], 'f32'), factor));
    const [oh, ow] = [Math.ceil(height / factor), Math.ceil(width / factor)];
    t.same(out.shape, [images, oh * ow], `[${images}, ${height}, ${width}] / ${factor}: shape`);
    const err = maxRelError(await rt.read(out), referencePool(map, [images, height, width], factor));
    t.ok(err <= KERNEL_TOLERANCE.f32, `[${images}, ${height}, ${width}] / ${factor}: max rel error ${err.toExponential(2)}`);
    out.dispose();
  }
});

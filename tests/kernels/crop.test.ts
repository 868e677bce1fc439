import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { crop2d, type CropWindow } from '../../kernels/crop.js';
import type { DType } from '../../runtime/dtype.js';

function referenceCrop(x: Float32Array, shape: number[], w: CropWindow): Float32Array {
  const h = shape[shape.length - 2]!;
  const wd = shape[shape.length - 1]!;
  const planes = x.length / (h * wd);
  const out = new Float32Array(planes * w.height * w.width);
  let k = 0;
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < w.height; y++) for (let c = 0; c < w.width; c++) out[k++] = x[(p * h + w.top + y) * wd + w.left + c]!;
  }
  return out;
}

t.test('crop2d copies windows exactly', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const cases: [number[], CropWindow][] = [
    [[2, 3, 11, 13], { top: 3, left: 5, height: 7, width: 1 }],
    [[1, 4, 16, 16], { top: 0, left: 0, height: 16, width: 16 }],
    [[5, 9], { top: 2, left: 1, height: 3, width: 7 }],
    [[1, 4, 20, 12], { top: 12, left: 6, height: 8, width: 6 }],
  ];
  for (const dtype of dtypes) {
    for (const [shape, w] of cases) {
      let x = seededValues(shape.reduce((p, d) => p * d, 1), 5);
      if (dtype === 'f16') x = roundToF16(x);
      const out = rt.tidy(() => crop2d(rt, rt.upload(x, shape, dtype), w));
      t.same(out.shape, [...shape.slice(0, -2), w.height, w.width]);
      t.same([...(await rt.read(out))], [...referenceCrop(x, shape, w)], `${dtype} ${shape.join('x')} window ${JSON.stringify(w)}`);
      out.dispose();
    }
  }
  const x = rt.zeros([1, 1, 4, 4]);
  t.throws(() => crop2d(rt, x, { top: 2, left: 0, height: 3, width: 1 }), /window 3x1 at \(2, 0\) is not inside x \[1, 1, 4, 4\]/);
  x.dispose();
});

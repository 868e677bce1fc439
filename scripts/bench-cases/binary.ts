import { randomTensor, type BenchCase } from './case.js';
import { add } from '../../kernels/binary.js';
import type { DType } from '../../runtime/dtype.js';

const shapes: number[][] = [[2, 320, 64, 64]];

export const binaryCases: BenchCase[] = shapes.flatMap((shape) =>
  (['f32', 'f16'] as DType[]).map((dtype): BenchCase => {
    const n = shape.reduce((p, d) => p * d, 1);
    const size = dtype === 'f32' ? 4 : 2;
    return {
      name: `add ${shape.join('x')}`,
      kernel: 'binary',
      dtype,
      flops: 0,
      bytes: 3 * n * size,
      setup(rt) {
        const a = randomTensor(rt, shape, dtype, 1);
        const b = randomTensor(rt, shape, dtype, 2);
        const out = rt.empty(shape, dtype);
        return {
          run: () => void add(rt, a, b, {}, out),
          dispose: () => [a, b, out].forEach((t) => t.dispose()),
        };
      },
    };
  }),
);

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { binary, type BinaryOp } from '../../kernels/binary.js';
import type { DType } from '../../runtime/dtype.js';

const ops: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  mul: (x, y) => x * y,
  sub: (x, y) => x - y,
};

t.test('binary ops with broadcasting match a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // [a shape, b size, stride]: same size, bias over rows, per-channel over pixels, odd sizes
  const cases: [number[], number, number][] = [
    [[7, 13], 91, 1],
    [[5, 33], 33, 1],
    [[2, 3, 5, 7], 6, 35],
  ];
  for (const dtype of dtypes) {
    for (const op of Object.keys(ops) as BinaryOp[]) {
      for (const [shape, bSize, stride] of cases) {
        const n = shape.reduce((p, d) => p * d, 1);
        let a = seededValues(n, 1);
        let b = seededValues(bSize, 2);
        if (dtype === 'f16') [a, b] = [roundToF16(a), roundToF16(b)];
        const want = new Float32Array(n);
        for (let i = 0; i < n; i++) want[i] = ops[op](a[i]!, b[Math.floor(i / stride) % bSize]!);
        const got = await rt.read(
          rt.tidy(() => binary(rt, op, rt.upload(a, shape, dtype), rt.upload(b, [bSize], dtype), { stride })),
        );
        t.ok(maxRelError(got, want) <= KERNEL_TOLERANCE[dtype], `${op} ${dtype} ${shape.join('x')} b=${bSize}/${stride}`);
      }
    }
  }
});

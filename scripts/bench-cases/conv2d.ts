import type { BenchCase } from './case.js';
import { MATRIX_SWEEP, matrixPick, type VariantPick } from './matmul.js';
import { conv2d, conv2dProblem } from '../../kernels/conv2d.js';
import { chooseVariant, variantName } from '../../kernels/gemm.js';
import type { DType } from '../../runtime/dtype.js';

/** conv2d 3x3 (pad 1) or 1x1 over x [batch, cin, size, size] with bias, as the U-Net's resnets run it. */
export function conv2dCase(batch: number, cin: number, cout: number, size: number, kernel: 1 | 3, dtype: DType, pick?: VariantPick): BenchCase {
  const k = cin * kernel * kernel;
  const n = batch * size * size;
  return {
    name: `conv${kernel}x${kernel} ${cin}→${cout} ${size}x${size} b${batch}`,
    kernel: 'conv2d',
    dtype,
    flops: 2 * cout * n * k,
    bytes: (batch * cin * size * size + cout * k + cout * n + cout) * (dtype === 'f32' ? 4 : 2),
    setup(rt) {
      const x = rt.zeros([batch, cin, size, size], dtype);
      const w = rt.zeros([cout, cin, kernel, kernel], dtype);
      const bias = rt.zeros([cout], dtype);
      const out = rt.empty([batch, cout, size, size], dtype);
      const padding = kernel === 3 ? 1 : 0;
      const variant = pick?.(rt) ?? chooseVariant(rt, conv2dProblem(rt, x, w, { padding, bias, out }));
      return {
        run: () => void conv2d(rt, x, w, { padding, bias, out, variant }),
        variant: variantName(variant),
        dispose: () => [x, w, bias, out].forEach((t) => t.dispose()),
      };
    },
  };
}

// The U-Net's first-level resnet conv (the bar) and its deepest one.
export const conv2dCases: BenchCase[] = (['f32', 'f16'] as DType[]).flatMap((dtype) => [
  conv2dCase(2, 320, 320, 64, 3, dtype),
  conv2dCase(2, 1280, 1280, 8, 3, dtype),
]);

// `--filter conv-sweep`: the bar conv and the deepest one under each tile shape.
export const conv2dSweepCases: BenchCase[] = [
  [320, 64],
  [1280, 8],
].flatMap(([channels, size]) =>
  MATRIX_SWEEP.map(([kind, ...t]) => ({ ...conv2dCase(2, channels!, channels!, size!, 3, 'f16', matrixPick(kind, ...t)), kernel: 'conv-sweep' })),
);

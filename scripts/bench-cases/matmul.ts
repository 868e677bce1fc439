import type { BenchCase } from './case.js';
import { linear, linearProblem, matmul, matmulProblem } from '../../kernels/matmul.js';
import { chooseVariant, variantName, type GemmVariant } from '../../kernels/gemm.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { DType } from '../../runtime/dtype.js';

/** Picks a variant for a sweep; undefined keeps the wrapper's own choice. */
export type VariantPick = (rt: Runtime) => GemmVariant | undefined;

/** matmul a [M, K] · b [K, N]. */
export function matmulCase(m: number, k: number, n: number, dtype: DType, pick?: VariantPick): BenchCase {
  return {
    name: `matmul ${m}x${k}x${n}`,
    kernel: 'matmul',
    dtype,
    flops: 2 * m * n * k,
    bytes: (m * k + k * n + m * n) * (dtype === 'f32' ? 4 : 2),
    setup(rt) {
      const a = rt.zeros([m, k], dtype);
      const b = rt.zeros([k, n], dtype);
      const out = rt.empty([m, n], dtype);
      const variant = pick?.(rt) ?? chooseVariant(rt, matmulProblem(rt, a, b, { out }));
      return {
        run: () => void matmul(rt, a, b, { out, variant }),
        variant: variantName(variant),
        dispose: () => [a, b, out].forEach((t) => t.dispose()),
      };
    },
  };
}

/** linear x [rows, K] · weight [N, K]ᵀ + bias, as the U-Net's projections run it. */
export function linearCase(rows: number, k: number, n: number, dtype: DType, pick?: VariantPick): BenchCase {
  return {
    name: `linear ${rows}x${k} → ${n}`,
    kernel: 'linear',
    dtype,
    flops: 2 * rows * n * k,
    bytes: (rows * k + n * k + rows * n + n) * (dtype === 'f32' ? 4 : 2),
    setup(rt) {
      const x = rt.zeros([rows, k], dtype);
      const w = rt.zeros([n, k], dtype);
      const bias = rt.zeros([n], dtype);
      const out = rt.empty([rows, n], dtype);
      const variant = pick?.(rt) ?? chooseVariant(rt, linearProblem(rt, x, w, { bias, out }));
      return {
        run: () => void linear(rt, x, w, { bias, out, variant }),
        variant: variantName(variant),
        dispose: () => [x, w, bias, out].forEach((t) => t.dispose()),
      };
    },
  };
}

// 4096³ as the headline GEMM figure; [2·4096, 320] · [1280, 320]ᵀ is the first level's
// feed-forward/time projection shape.
export const matmulCases: BenchCase[] = (['f32', 'f16'] as DType[]).flatMap((dtype) => [
  matmulCase(4096, 4096, 4096, dtype),
  linearCase(8192, 320, 1280, dtype),
]);

import { randomTensor, type BenchCase } from './case.js';
import { linear, linearProblem, matmul, matmulProblem } from '../../kernels/matmul.js';
import { chooseVariant, matrixFragment, variantName, type GemmVariant, type MatrixVariant } from '../../kernels/gemm.js';
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
      const a = randomTensor(rt, [m, k], dtype, 1);
      const b = randomTensor(rt, [k, n], dtype, 2);
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
      const x = randomTensor(rt, [rows, k], dtype, 1);
      const w = randomTensor(rt, [n, k], dtype, 2);
      const bias = randomTensor(rt, [n], dtype, 3);
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

/** A subgroup-matrix variant by tile shape, for sweeps (16x16x16 fragments). */
export function matrixPick(kind: MatrixVariant['kind'], sgM: number, sgN: number, fm: number, fn: number, bk = 32, extra: SweepExtra = {}): VariantPick {
  return (rt) => {
    const frag = matrixFragment(rt, 'f16');
    if (!frag) throw new Error('no f16 subgroup matrices on this device');
    return { kind, sgM, sgN, fm, fn, bk, frag, ...extra };
  };
}

/** Launch order, K slices, results and loads ahead of a swept variant. */
export interface SweepExtra {
  readonly groupM?: number;
  readonly splitK?: number;
  readonly results?: 'workgroup' | 'memory';
  readonly ahead?: 1 | 2 | 3;
  readonly streamK?: number;
}

export type SweepEntry = readonly [MatrixVariant['kind'], number, number, number, number, number, SweepExtra?];

/**
 * Tile shapes tried by `--filter gemm-sweep` (also used by the conv sweep). More than 2x2
 * fragments per subgroup ran 2-4x slower on the H100 (Nov 2026; again in December with results
 * through memory: 2x4, 4x2 and 4x4 gave 18.6-28.3 TFLOP/s at 4096³ against 81-88), so the sweep
 * varies the subgroups per workgroup, K step, launch order and where results go around 2x2.
 */
export const MATRIX_SWEEP: readonly SweepEntry[] = [
  ['tc', 2, 2, 2, 2, 32],
  ['tc', 2, 2, 2, 2, 32, { groupM: 16 }],
  ['tc', 2, 2, 2, 2, 16],
  ['tc', 4, 2, 2, 2, 32],
  ['tc', 4, 2, 2, 2, 16],
  ['tc', 2, 4, 2, 2, 32],
  ['tc', 4, 4, 2, 2, 16],
  ['tc', 4, 4, 2, 2, 16, { groupM: 8 }],
  ['tc', 4, 4, 2, 2, 16, { groupM: 16 }],
  ['tc', 2, 2, 4, 2, 32],
  // Results through memory (interior shapes only): the freed workgroup memory buys deeper K steps.
  ['tc', 4, 4, 2, 2, 32, { results: 'memory' }],
  ['tc', 4, 4, 2, 2, 32, { results: 'memory', groupM: 8 }],
  ['tc', 2, 4, 2, 2, 32, { results: 'memory' }],
  ['tc', 2, 2, 2, 2, 64, { results: 'memory' }],
  ['tc', 2, 2, 2, 2, 32, { results: 'memory' }],
  ['tc', 4, 4, 2, 2, 32, { results: 'memory', groupM: 16 }],
];

// `--filter gemm-sweep`: the headline GEMM and the first-level linear under each tile shape.
export const matmulSweepCases: BenchCase[] = [
  ...MATRIX_SWEEP.map(([kind, ...t]) => ({ ...matmulCase(4096, 4096, 4096, 'f16', matrixPick(kind, ...t)), kernel: 'gemm-sweep' })),
  ...[
    [2, 2, 2, 2],
    [2, 2, 4, 2],
  ].map(([sgM, sgN, fm, fn]) => ({ ...matmulCase(4096, 4096, 4096, 'f16', matrixPick('tc-direct', sgM!, sgN!, fm!, fn!)), kernel: 'gemm-sweep' })),
  ...MATRIX_SWEEP.map(([kind, ...t]) => ({ ...linearCase(8192, 320, 1280, 'f16', matrixPick(kind, ...t)), kernel: 'gemm-sweep' })),
];

// `--filter ahead-sweep` (with conv2d.ts's rows): global loads one, two or three K steps ahead
// of the multiplies, on the tiles the bars use.
export const matmulAheadCases: BenchCase[] = ([1, 2, 3] as const).flatMap((ahead) => [
  { ...matmulCase(4096, 4096, 4096, 'f16', matrixPick('tc', 4, 4, 2, 2, 32, { results: 'memory', ahead })), kernel: 'ahead-sweep' },
  { ...matmulCase(4096, 4096, 4096, 'f16', matrixPick('tc', 4, 4, 2, 2, 32, { results: 'memory', groupM: 16, ahead })), kernel: 'ahead-sweep' },
  { ...matmulCase(4096, 4096, 4096, 'f16', matrixPick('tc', 4, 4, 2, 2, 16, { ahead })), kernel: 'ahead-sweep' },
  { ...linearCase(8192, 320, 1280, 'f16', matrixPick('tc', 4, 4, 2, 2, 16, { ahead })), kernel: 'ahead-sweep' },
]);

// `--filter tail-sweep`: the 4096³ winner's wave quantisation, read from GPU time per FLOP as M
// moves the tile count around multiples of the H100's 132 SMs (31, 32, 33, 34 rows of 32 tiles:
// 992, 1024, 1056, 1088), its launch bands, and stream-K over the 132 SMs.
export const tailSweepCases: BenchCase[] = [
  ...[3968, 4096, 4224, 4352].map((m) => ({ ...matmulCase(m, 4096, 4096, 'f16'), kernel: 'tail-sweep' })),
  ...[4, 8, 16, 32].map((groupM) => ({ ...matmulCase(4096, 4096, 4096, 'f16', matrixPick('tc', 4, 4, 2, 2, 32, { results: 'memory', groupM, ahead: 3 })), kernel: 'tail-sweep' })),
  ...[3968, 4096, 4352].map((m) => ({ ...matmulCase(m, 4096, 4096, 'f16', matrixPick('tc', 4, 4, 2, 2, 32, { results: 'memory', ahead: 3, streamK: 132 })), kernel: 'tail-sweep' })),
];

// `--filter split-sweep`: deep-level linears (few output tiles) under several K splits, and the
// engine's own choice.
export const splitSweepCases: BenchCase[] = [
  [128, 1280, 1280],
  [512, 1280, 1280],
  [128, 5120, 1280],
].flatMap(([rows, k, n]) => [
  { ...linearCase(rows!, k!, n!, 'f16'), kernel: 'split-sweep' },
  ...[1, 2, 4, 5, 8, 10].map((splitK) => ({ ...linearCase(rows!, k!, n!, 'f16', matrixPick('tc', 2, 2, 2, 2, 32, { splitK })), kernel: 'split-sweep' })),
]);

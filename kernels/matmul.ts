import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import type { Activation } from './activation.js';
import { checkDTypes, checkShape, gemm, type GemmProblem, type GemmVariant } from './gemm.js';

export type { Activation } from './activation.js';

export interface LinearOptions {
  bias?: Tensor;
  activation?: Activation;
  /** added after bias+activation, same shape as the output */
  residual?: Tensor;
  out?: Tensor;
  /** Force a kernel variant (benchmarks and tests); chosen per shape and device otherwise. */
  variant?: GemmVariant;
}

/** x: [..., K], weight: [N, K] (PyTorch nn.Linear layout), bias: [N] → [..., N]. All same dtype. */
export function linear(rt: Runtime, x: Tensor, weight: Tensor, options: LinearOptions = {}): Tensor {
  const problem = linearProblem(rt, x, weight, options);
  gemm(rt, problem, options.variant);
  return problem.out;
}

/** The GEMM a linear call runs (shapes checked, output allocated unless given). */
export function linearProblem(rt: Runtime, x: Tensor, weight: Tensor, options: LinearOptions = {}): GemmProblem {
  const k = x.shape[x.rank - 1];
  if (x.rank < 1 || weight.rank !== 2 || k === undefined || weight.shape[1] !== k) {
    throw new Error(`linear: x ${formatShape(x.shape)} needs weight [N, ${k ?? '?'}], got ${formatShape(weight.shape)}`);
  }
  const n = weight.shape[0]!;
  const outShape = [...x.shape.slice(0, -1), n];
  const { bias, residual } = options;
  checkDTypes('linear', x, weight, bias, residual, options.out);
  if (bias && (bias.size !== n || bias.rank !== 1)) throw new Error(`linear: bias ${formatShape(bias.shape)} must be [${n}]`);
  if (residual) checkShape('linear', 'residual', residual, outShape);
  const out = options.out ?? rt.empty(outShape, x.dtype);
  checkShape('linear', 'out', out, outShape);
  const m = x.size / k;
  return { label: 'linear', mode: 'nk', m, n, k, batch: 1, a: x, b: weight, out, aBatch: 0, bBatch: 0, outBatch: 0, bias, residual, activation: options.activation };
}

export interface MatmulOptions {
  transposeB?: boolean;
  /** Kernel label in errors and profiles (default 'matmul'), e.g. to count a product towards its caller. */
  label?: string;
  alpha?: number;
  out?: Tensor;
  /** Force a kernel variant (benchmarks and tests); chosen per shape and device otherwise. */
  variant?: GemmVariant;
}

/**
 * a: [M, K] or [B, M, K]; b: [K, N] / [B, K, N] (or [N, K] / [B, N, K] with transposeB) → [(B,) M, N],
 * times alpha. A 2-D operand is shared by every batch of a 3-D one.
 */
export function matmul(rt: Runtime, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const problem = matmulProblem(rt, a, b, options);
  gemm(rt, problem, options.variant);
  return problem.out;
}

/** The GEMM a matmul call runs (shapes checked, output allocated unless given). */
export function matmulProblem(rt: Runtime, a: Tensor, b: Tensor, options: MatmulOptions = {}): GemmProblem {
  const transposeB = options.transposeB ?? false;
  const bad = () =>
    new Error(`matmul: cannot multiply a ${formatShape(a.shape)} by b ${formatShape(b.shape)}${transposeB ? ' (transposeB)' : ''}`);
  if ((a.rank !== 2 && a.rank !== 3) || (b.rank !== 2 && b.rank !== 3)) throw bad();
  const batchA = a.rank === 3 ? a.shape[0]! : 1;
  const batchB = b.rank === 3 ? b.shape[0]! : 1;
  if (a.rank === 3 && b.rank === 3 && batchA !== batchB) throw bad();
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [kb, n] = transposeB ? [b1, b0] : [b0, b1];
  if (kb !== k) throw bad();
  checkDTypes('matmul', a, b, options.out);
  const batch = Math.max(batchA, batchB);
  const outShape = a.rank === 3 || b.rank === 3 ? [batch, m, n] : [m, n];
  const out = options.out ?? rt.empty(outShape, a.dtype);
  checkShape('matmul', 'out', out, outShape);
  return {
    label: options.label ?? 'matmul',
    mode: transposeB ? 'nk' : 'kn',
    m,
    n,
    k,
    batch,
    a,
    b,
    out,
    aBatch: a.rank === 3 ? m * k : 0,
    bBatch: b.rank === 3 ? k * n : 0,
    outBatch: m * n,
    alpha: options.alpha,
  };
}

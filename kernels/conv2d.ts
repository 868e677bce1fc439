import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { checkDTypes, checkShape, gemm, type GemmProblem, type GemmVariant } from './gemm.js';

export interface Conv2dOptions {
  stride?: 1 | 2;
  /** symmetric n, or [top, bottom, left, right] (the SD VAE encoder's downsampler pads (0,1,0,1) with stride 2) */
  padding?: number | readonly [number, number, number, number];
  bias?: Tensor;
  /** added after bias, output shape */
  residual?: Tensor;
  out?: Tensor;
  /** Force a kernel variant (benchmarks and tests); chosen per shape and device otherwise. */
  variant?: GemmVariant;
}

/**
 * x: [B, Cin, H, W] (NCHW), weight: [Cout, Cin, kh, kw] with kh=kw ∈ {1, 3} → [B, Cout, Ho, Wo],
 * Ho = (H + pt + pb − kh)/stride + 1. Runs as an implicit GEMM: M = Cout, N = B·Ho·Wo,
 * K = Cin·kh·kw, with the im2col matrix gathered from x tile by tile, never materialised.
 */
export function conv2d(rt: Runtime, x: Tensor, weight: Tensor, options: Conv2dOptions = {}): Tensor {
  const problem = conv2dProblem(rt, x, weight, options);
  gemm(rt, problem, options.variant);
  return problem.out;
}

/** The implicit GEMM a conv2d call runs (shapes checked, output allocated unless given). */
export function conv2dProblem(rt: Runtime, x: Tensor, weight: Tensor, options: Conv2dOptions = {}): GemmProblem {
  const stride = options.stride ?? 1;
  const pad = options.padding ?? 0;
  const [top, bottom, left, right] = typeof pad === 'number' ? [pad, pad, pad, pad] : pad;
  if (x.rank !== 4 || weight.rank !== 4) {
    throw new Error(`conv2d: x ${formatShape(x.shape)} must be [B, Cin, H, W] and weight ${formatShape(weight.shape)} [Cout, Cin, k, k]`);
  }
  const [batch, cin, h, w] = x.shape as [number, number, number, number];
  const [cout, wcin, kh, kw] = weight.shape as [number, number, number, number];
  if (wcin !== cin || kh !== kw || (kh !== 1 && kh !== 3)) {
    throw new Error(`conv2d: weight ${formatShape(weight.shape)} must be [Cout, ${cin}, k, k] with k 1 or 3 for x ${formatShape(x.shape)}`);
  }
  if (stride !== 1 && stride !== 2) throw new Error(`conv2d: stride ${String(stride)} must be 1 or 2`);
  if ([top, bottom, left, right].some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`conv2d: padding ${JSON.stringify(pad)} must be non-negative whole numbers`);
  }
  const ho = Math.floor((h + top + bottom - kh) / stride) + 1;
  const wo = Math.floor((w + left + right - kw) / stride) + 1;
  if (ho < 1 || wo < 1) throw new Error(`conv2d: x ${formatShape(x.shape)} is smaller than the ${kh}x${kw} kernel`);
  const outShape = [batch, cout, ho, wo];
  const { bias, residual } = options;
  checkDTypes('conv2d', x, weight, bias, residual, options.out);
  if (bias && (bias.size !== cout || bias.rank !== 1)) throw new Error(`conv2d: bias ${formatShape(bias.shape)} must be [${cout}]`);
  if (residual) checkShape('conv2d', 'residual', residual, outShape);
  const out = options.out ?? rt.empty(outShape, x.dtype);
  checkShape('conv2d', 'out', out, outShape);
  return {
    label: 'conv2d',
    mode: 'conv',
    m: cout,
    n: batch * ho * wo,
    k: cin * kh * kw,
    batch: 1,
    a: weight,
    b: x,
    out,
    aBatch: 0,
    bBatch: 0,
    outBatch: 0,
    bias,
    residual,
    conv: { cin, h, w, wo, pixels: ho * wo, kernel: kh, stride, padTop: top, padLeft: left },
  };
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { bytesPerElement, formatShape } from '../runtime/dtype.js';
import { checkDTypes, checkShape, chooseVariant, gemm, matrixFragment, variantName, type ConvGeometry, type GemmProblem, type GemmVariant } from './gemm.js';
import { im2col, type ConvWindow } from './im2col.js';

/**
 * How a convolution becomes a GEMM:
 * - 'pointwise': a 1x1 stride-1 unpadded conv is already weight · x[b] per image;
 * - 'im2col': the patches are written out once ([B, Cin·k·k, Ho·Wo]) and multiplied as a plain
 *   batched GEMM, whose aligned tile loads feed tensor cores far better than a gather;
 * - 'gather': an implicit GEMM that gathers the patches tile by tile, never materialised.
 */
export type ConvLowering = 'pointwise' | 'im2col' | 'gather';

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
  /** Force a lowering (tests, benchmarks); chosen per shape and device otherwise. */
  lowering?: ConvLowering;
}

/** A checked convolution: its window and output shape. */
interface ConvShape extends ConvWindow {
  readonly batch: number;
  readonly cout: number;
  readonly outShape: readonly number[];
}

/** The largest im2col matrix worth writing out; bigger convolutions gather instead. */
const IM2COL_BYTES = 512 * 2 ** 20;

/**
 * x: [B, Cin, H, W] (NCHW), weight: [Cout, Cin, kh, kw] with kh=kw ∈ {1, 3} → [B, Cout, Ho, Wo],
 * Ho = (H + pt + pb − kh)/stride + 1, as one GEMM with M = Cout, K = Cin·kh·kw (see ConvLowering).
 */
export function conv2d(rt: Runtime, x: Tensor, weight: Tensor, options: Conv2dOptions = {}): Tensor {
  const shape = convShape(x, weight, options);
  const { bias, residual } = options;
  checkDTypes('conv2d', x, weight, bias, residual, options.out);
  if (bias && (bias.size !== shape.cout || bias.rank !== 1)) throw new Error(`conv2d: bias ${formatShape(bias.shape)} must be [${shape.cout}]`);
  if (residual) checkShape('conv2d', 'residual', residual, shape.outShape);
  const out = options.out ?? rt.empty(shape.outShape, x.dtype);
  checkShape('conv2d', 'out', out, shape.outShape);
  const lowering = options.lowering ?? chooseLowering(rt, x, shape);
  if (lowering === 'pointwise' && !isPointwise(shape)) throw new Error('conv2d: the pointwise lowering needs a 1x1 kernel, stride 1 and no padding');
  if (lowering !== 'im2col') {
    gemm(rt, gemmProblem(shape, lowering, weight, x, out, options), options.variant);
    return out;
  }
  const cols = im2col(rt, x, shape);
  try {
    gemm(rt, gemmProblem(shape, lowering, weight, cols, out, options), options.variant);
  } finally {
    cols.dispose();
  }
  return out;
}

/** The lowering and GEMM variant conv2d picks for these operands (benchmark labels). */
export function conv2dVariant(rt: Runtime, x: Tensor, weight: Tensor, options: Conv2dOptions = {}): string {
  const shape = convShape(x, weight, options);
  const lowering = options.lowering ?? chooseLowering(rt, x, shape);
  // Only shapes, dtypes and the mode steer the choice, so x may stand in for the im2col matrix.
  const problem = gemmProblem(shape, lowering, weight, x, x, options);
  return `${lowering} ${variantName(options.variant ?? chooseVariant(rt, problem))}`;
}

function isPointwise(s: ConvShape): boolean {
  return s.kernel === 1 && s.stride === 1 && s.h === s.ho && s.w === s.wo;
}

/** The window as the gathering GEMM layout ('conv') reads it. */
function geometry(s: ConvShape): ConvGeometry {
  const { cin, h, w, wo, kernel, stride, padTop, padLeft } = s;
  return { cin, h, w, wo, pixels: s.ho * s.wo, kernel, stride, padTop, padLeft };
}

/**
 * Pointwise convs need no lowering at all. Writing im2col out pays off where tensor cores run the
 * GEMM (measured on the H100); elsewhere, and for matrices past IM2COL_BYTES, the gather does.
 */
function chooseLowering(rt: Runtime, x: Tensor, s: ConvShape): ConvLowering {
  if (isPointwise(s)) return 'pointwise';
  const bytes = s.batch * s.cin * s.kernel * s.kernel * s.ho * s.wo * bytesPerElement(x.dtype);
  const limit = Math.min(IM2COL_BYTES, rt.device.limits.maxStorageBufferBindingSize);
  // im2col runs one workgroup row per K row.
  const rows = s.cin * s.kernel * s.kernel <= rt.device.limits.maxComputeWorkgroupsPerDimension;
  return matrixFragment(rt, x.dtype) && bytes <= limit && rows ? 'im2col' : 'gather';
}

/** The GEMM a lowering runs, with b the image (gather, pointwise) or its im2col matrix. */
function gemmProblem(s: ConvShape, lowering: ConvLowering, weight: Tensor, b: Tensor, out: Tensor, options: Conv2dOptions): GemmProblem {
  const pixels = s.ho * s.wo;
  const k = s.cin * s.kernel * s.kernel;
  const common = { label: 'conv2d', m: s.cout, k, a: weight, b, out, aBatch: 0, bias: options.bias, residual: options.residual };
  if (lowering === 'gather') {
    return { ...common, mode: 'conv', n: s.batch * pixels, batch: 1, bBatch: 0, outBatch: 0, conv: geometry(s) };
  }
  // Image by image: weight [Cout, K] · B[b] [K, Ho·Wo] → out[b] [Cout, Ho·Wo], which is NCHW.
  return { ...common, mode: 'kn', n: pixels, batch: s.batch, bBatch: k * pixels, outBatch: s.cout * pixels, biasPerRow: true, im2col: lowering === 'im2col' };
}

function convShape(x: Tensor, weight: Tensor, options: Conv2dOptions): ConvShape {
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
  return { batch, cin, h, w, ho, wo, cout, kernel: kh, stride, padTop: top, padLeft: left, outShape: [batch, cout, ho, wo] };
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';

export type BinaryOp = 'add' | 'mul' | 'sub';
const OP_CODE: Record<BinaryOp, number> = { add: 0, mul: 1, sub: 2 };

export interface Broadcast {
  /** Each b value repeats this many times in a row (e.g. H·W for a per-channel [B,C,1,1] b). Default 1. */
  readonly stride?: number;
}

/**
 * Elementwise a op b with b the same size as a or broadcast by repetition: a:[..., C] with b:[C]
 * (stride 1), or a:[B, C, H, W] with b:[B, C] (stride H·W). Output has a's shape and dtype.
 */
export function binary(rt: Runtime, op: BinaryOp, a: Tensor, b: Tensor, broadcast: Broadcast = {}, out?: Tensor): Tensor {
  const stride = broadcast.stride ?? 1;
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype}, ${b.dtype})`);
  if (b.size === 0 || (a.size / stride) % b.size !== 0 && a.size !== b.size) {
    throw new Error(`${op}: cannot broadcast ${formatShape(b.shape)} over ${formatShape(a.shape)} with stride ${stride}`);
  }
  const result = out ?? rt.empty(a.shape, a.dtype);
  const { workgroups, rowWidth } = grid1d(a.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`binary_${op}_${a.dtype}`, () => specialize(kernelSource('binary.wgsl'), { dtype: a.dtype, consts: { OP: OP_CODE[op] } })),
    uniforms: new Uniforms().u32(a.size, stride, b.size, rowWidth),
    bindings: [a, b, result],
    workgroups,
  });
  return result;
}

export const add = (rt: Runtime, a: Tensor, b: Tensor, broadcast?: Broadcast, out?: Tensor) => binary(rt, 'add', a, b, broadcast, out);
export const mul = (rt: Runtime, a: Tensor, b: Tensor, broadcast?: Broadcast, out?: Tensor) => binary(rt, 'mul', a, b, broadcast, out);

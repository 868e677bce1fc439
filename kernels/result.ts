import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { elementCount, formatShape, type DType } from '../runtime/dtype.js';

/**
 * The output tensor of a kernel: `out` after checking it fits (same element count and dtype, and
 * no buffer shared with an input, which WebGPU forbids for a writable binding), or a new one.
 */
export function resultTensor(
  rt: Runtime,
  kernel: string,
  shape: readonly number[],
  dtype: DType,
  out: Tensor | undefined,
  inputs: readonly Tensor[],
): Tensor {
  if (!out) return rt.empty(shape, dtype);
  if (out.size !== elementCount(shape) || out.dtype !== dtype) {
    throw new Error(`${kernel}: out is ${formatShape(out.shape)} ${out.dtype}, expected ${formatShape(shape)} ${dtype}`);
  }
  if (inputs.some((t) => t.buffer === out.buffer)) throw new Error(`${kernel}: out must not share a buffer with an input`);
  return out;
}


import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';

/**
 * The token indices of one side of a bipartite split as the merge kernels read them: [n] shared by
 * every batch row (stride 0) or [B, n] with a row each (stride n).
 */
export interface SplitIndices {
  readonly count: number;
  /** Elements between batch rows: 0 when shared. */
  readonly stride: number;
}

export function splitIndices(kernel: string, what: string, t: Tensor, batch: number): SplitIndices {
  if (t.dtype !== 'u32') throw new Error(`${kernel}: ${what} indices must be u32, got ${t.dtype}`);
  if (t.rank === 1) return { count: t.shape[0]!, stride: 0 };
  if (t.rank === 2 && t.shape[0] === batch) return { count: t.shape[1]!, stride: t.shape[1]! };
  throw new Error(`${kernel}: ${what} indices ${formatShape(t.shape)} must be [n] or [${batch}, n]`);
}

/** Checks a per-row tensor is [B, n] of the given dtype and returns n. */
export function rowTensor(kernel: string, what: string, t: Tensor, batch: number, dtype: Tensor['dtype']): number {
  if (t.dtype !== dtype || t.rank !== 2 || t.shape[0] !== batch) {
    throw new Error(`${kernel}: ${what} is ${formatShape(t.shape)} ${t.dtype}, expected [${batch}, n] ${dtype}`);
  }
  return t.shape[1]!;
}

/** Checks tokens [B, N, C] in a float dtype and returns its dims. */
export function tokenTensor(kernel: string, what: string, t: Tensor): [batch: number, tokens: number, channels: number] {
  if (t.rank !== 3 || t.dtype === 'u32') throw new Error(`${kernel}: ${what} ${formatShape(t.shape)} ${t.dtype} must be [B, N, C] f32 or f16`);
  return [t.shape[0]!, t.shape[1]!, t.shape[2]!];
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { FloatDType } from '../runtime/dtype.js';
import { formatShape } from '../runtime/dtype.js';
import { Uniforms } from '../runtime/uniforms.js';
import { specialize } from '../runtime/wgsl.js';
import { pushTileGrid, tileWorkgroups, tomaKernelSource, type TomaGrid } from './toma-layout.js';
import { similarityBatch, tileCapacity } from './toma-select.js';

const WG = 64;

export interface TomaWeights {
  /** [B, N − r, maxTileTokens]: row m = the weights of its tile's tokens in merged token m (sum 1). */
  readonly merge: Tensor;
  /** [B, N, maxTileDestinations]: row i = token i's softmax over its tile's destinations (sum 1). */
  readonly unmerge: Tensor;
}

/**
 * The merge / unmerge weights (see toma-assign.wgsl) from per-tile similarities sim [B·T, nmax, nmax]
 * f32 and destinations dst [B, N − r] u32 (tomaSelect), softmax of scale · similarity over each
 * tile's destinations. Weights are stored in `dtype` (the model's, for the merge kernels).
 */
export function tomaAssign(rt: Runtime, sim: Tensor, dst: Tensor, grid: TomaGrid, scale: number, dtype: FloatDType): TomaWeights {
  const batch = similarityBatch('tomaAssign', sim, grid);
  if (dst.dtype !== 'u32' || dst.rank !== 2 || dst.shape[0] !== batch || dst.shape[1] !== grid.destinations) {
    throw new Error(`tomaAssign: dst ${formatShape(dst.shape)} ${dst.dtype} must be [${batch}, ${grid.destinations}] u32`);
  }
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`tomaAssign: scale ${scale} must be finite and positive`);
  const merge = rt.empty([batch, grid.destinations, grid.maxTileTokens], dtype);
  const unmerge = rt.empty([batch, grid.tokens, grid.maxTileDestinations], dtype);
  if (batch === 0) return { merge, unmerge };
  const cap = tileCapacity(grid);
  rt.dispatch({
    pipeline: rt.pipeline(`toma_assign_${dtype}_c${cap}`, () => specialize(tomaKernelSource('toma-assign.wgsl'), { dtype, consts: { WG, CAP: cap } })),
    uniforms: pushTileGrid(new Uniforms(), grid).f32(scale),
    bindings: [sim, dst, merge, unmerge],
    workgroups: tileWorkgroups('tomaAssign', grid, batch),
  });
  return { merge, unmerge };
}

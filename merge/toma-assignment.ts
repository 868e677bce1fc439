// One ToMA (re)computation for one block: hidden states → destinations and merge / unmerge weights,
// all recorded on the GPU with shapes fixed by the tile grid (no readback).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { FloatDType } from '../runtime/dtype.js';
import { matmul } from '../kernels/matmul.js';
import type { TomaGrid } from '../kernels/toma-layout.js';
import { tomaTiles } from '../kernels/toma-tiles.js';
import { tomaSelect } from '../kernels/toma-select.js';
import { tomaAssign } from '../kernels/toma-assign.js';

export interface TomaAssignment {
  /** [B, N − r] u32: grid token index of every destination (merged token), tile by tile. */
  readonly dst: Tensor;
  /** [B, N − r, maxTileTokens] in the model dtype: each merged token's weights over its tile. */
  readonly merge: Tensor;
  /** [B, N, maxTileDestinations] in the model dtype: each token's weights over its tile's destinations. */
  readonly unmerge: Tensor;
}

/**
 * h [B, N, C] → destinations by per-tile greedy facility location on cosine similarity, then the
 * softmax(scale · similarity) assignment. The similarity is one batched GEMM over the tiles (f32,
 * as the reference's facility location), reused by the selection and the assignment. Returns new
 * tensors; intermediates are freed.
 */
export function computeTomaAssignment(rt: Runtime, h: Tensor, grid: TomaGrid, scale: number): TomaAssignment {
  const dtype = h.dtype as FloatDType;
  return rt.tidy(() => {
    const tiles = tomaTiles(rt, h, grid);
    const sim = matmul(rt, tiles, tiles, { transposeB: true });
    const dst = tomaSelect(rt, sim, grid);
    const { merge, unmerge } = tomaAssign(rt, sim, dst, grid, scale, dtype);
    return { dst, merge, unmerge };
  });
}

// tomesd's 2-D destination grid: one destination per sx×sy cell of the top-left ⌊h/sy⌋·sy ×
// ⌊w/sx⌋·sx region, every other token (remainder rows and columns included) a source.

import type { Runtime } from '../runtime/runtime.js';
import { randomGridDestinations } from '../kernels/merge-random-grid.js';
import { partitionFromDestinations, uploadPartition, type TokenPartition } from './bipartite.js';
import { torchCpuArgsort } from './torch-argsort.js';

export interface GridStride {
  readonly sx: number;
  readonly sy: number;
}

/**
 * The no_rand split (top-left of each cell) in exactly tomesd's order: tomesd marks destinations −1
 * and sources 0 in an h×w grid and takes `argsort` (unstable, on the CPU), so destinations come
 * first in the order torch's sort leaves them — which the merged tensor shows.
 */
export function tomesdGridSplit(width: number, height: number, { sx, sy }: GridStride): { dst: Uint32Array; src: Uint32Array } {
  checkGrid(width, height, sx, sy);
  const cellsX = Math.floor(width / sx);
  const cellsY = Math.floor(height / sy);
  const marks = new Int8Array(width * height);
  for (let cy = 0; cy < cellsY; cy++) for (let cx = 0; cx < cellsX; cx++) marks[cy * sy * width + cx * sx] = -1;
  const order = torchCpuArgsort(marks);
  const nDst = cellsX * cellsY;
  return { dst: order.slice(0, nDst), src: order.slice(nDst) };
}

/** tomesd's no_rand split uploaded (shared by every batch row). */
export function gridPartition(rt: Runtime, width: number, height: number, stride: GridStride): TokenPartition {
  const { dst, src } = tomesdGridSplit(width, height, stride);
  return uploadPartition(rt, width * height, dst, src);
}

/**
 * tomesd's use_rand split, made on the GPU: a random token per cell from a hash of `seed` (not
 * torch.randint, so not tomesd's draw), destinations in cell order, sources in token order.
 */
export function randomGridPartition(rt: Runtime, width: number, height: number, { sx, sy }: GridStride, seed: number): TokenPartition {
  checkGrid(width, height, sx, sy);
  return partitionFromDestinations(rt, width * height, randomGridDestinations(rt, width, height, sx, sy, seed));
}

function checkGrid(width: number, height: number, sx: number, sy: number): void {
  for (const [name, v] of Object.entries({ width, height, sx, sy })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`token grid: ${name} = ${v} must be a positive integer`);
  }
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { pushTileGrid, tileWorkgroups, tomaKernelSource, type TomaGrid } from './toma-layout.js';

const WG = 64;

/** Workgroup-array capacity for a grid's largest tile (a power of two, so few pipeline variants). */
export function tileCapacity(grid: TomaGrid): number {
  let cap = WG;
  while (cap < grid.maxTileTokens) cap *= 2;
  return cap;
}

/** Checks a per-tile similarity tensor [B·T, nmax, nmax] f32 and returns B. */
export function similarityBatch(kernel: string, sim: Tensor, grid: TomaGrid): number {
  const n = grid.maxTileTokens;
  if (sim.dtype !== 'f32' || sim.rank !== 3 || sim.shape[1] !== n || sim.shape[2] !== n || sim.shape[0]! % grid.tiles !== 0) {
    throw new Error(`${kernel}: similarities ${formatShape(sim.shape)} ${sim.dtype} must be [B·${grid.tiles}, ${n}, ${n}] f32`);
  }
  return sim.shape[0]! / grid.tiles;
}

/**
 * Greedy facility location per tile (see toma-select.wgsl) from the per-tile cosine similarities
 * sim [B·T, nmax, nmax] f32 → dst [B, N − r] u32: the grid token index of every destination, tile by
 * tile, each tile's in pick order.
 */
export function tomaSelect(rt: Runtime, sim: Tensor, grid: TomaGrid): Tensor {
  const batch = similarityBatch('tomaSelect', sim, grid);
  const dst = rt.empty([batch, grid.destinations], 'u32');
  if (batch === 0) return dst;
  const cap = tileCapacity(grid);
  rt.dispatch({
    pipeline: rt.pipeline(`toma_select_c${cap}`, () => specialize(tomaKernelSource('toma-select.wgsl'), { consts: { WG, CAP: cap } })),
    uniforms: pushTileGrid(new Uniforms(), grid),
    bindings: [sim, dst],
    workgroups: tileWorkgroups('tomaSelect', grid, batch),
  });
  return dst;
}

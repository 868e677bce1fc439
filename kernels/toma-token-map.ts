import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { Uniforms } from '../runtime/uniforms.js';
import { specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';
import { pushTileGrid, tomaKernelSource, type TomaGrid } from './toma-layout.js';

/**
 * [B, N] u32: each token's merged row under the hard (argmax) reading of ToMA's soft assignment,
 * from the unmerge weights [B, N, maxTileDestinations] of tomaAssign (ties: the first destination).
 * For observers (a BlockPlan's tokenMap); merging itself stays soft.
 */
export function tomaTokenMap(rt: Runtime, unmerge: Tensor, grid: TomaGrid): Tensor {
  const batch = unmerge.shape[0] ?? 0;
  if (unmerge.rank !== 3 || unmerge.dtype === 'u32' || unmerge.shape[1] !== grid.tokens || unmerge.shape[2] !== grid.maxTileDestinations) {
    throw new Error(`tomaTokenMap: weights ${formatShape(unmerge.shape)} ${unmerge.dtype} must be [B, ${grid.tokens}, ${grid.maxTileDestinations}] float`);
  }
  const map = rt.empty([batch, grid.tokens], 'u32');
  if (map.size === 0) return map;
  const { workgroups, rowWidth } = grid1d(map.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`toma_token_map_${unmerge.dtype}`, () => specialize(tomaKernelSource('toma-token-map.wgsl'), { dtype: unmerge.dtype })),
    uniforms: pushTileGrid(new Uniforms(), grid).u32(map.size, rowWidth),
    bindings: [unmerge, map],
    workgroups,
  });
  return map;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';

/** Added to the similarity of a forced source (see importance-priority.wgsl). */
export const FORCED_BONUS = 4;

/**
 * similarity [B, n_src] f32 (cosine, in [−1, 1]) → merge-priority keys [B, n_src] f32: the first
 * `forced` sources of each row get similarity + FORCED_BONUS so they rank before all others.
 */
export function forcedFirstKeys(rt: Runtime, similarity: Tensor, forced: number): Tensor {
  if (similarity.rank !== 2 || similarity.dtype !== 'f32') throw new Error(`forcedFirstKeys: similarity ${formatShape(similarity.shape)} ${similarity.dtype} must be [B, n_src] f32`);
  const nSrc = similarity.shape[1]!;
  if (!Number.isInteger(forced) || forced < 0 || forced > nSrc) throw new Error(`forcedFirstKeys: forced ${forced} outside 0..${nSrc}`);
  const keys = rt.empty(similarity.shape, 'f32');
  if (keys.size === 0) return keys;
  const { workgroups, rowWidth } = grid1d(keys.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline('importance_priority', kernelSource('importance-priority.wgsl')),
    uniforms: new Uniforms().u32(keys.size, nSrc, forced, rowWidth),
    bindings: [similarity, keys],
    workgroups,
  });
  return keys;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';

export interface DescendingRank {
  /** [B, n] u32: position of each key in its row sorted by descending value (ties by index). */
  readonly rank: Tensor;
  /** [B, n] u32: the inverse, key indices in that order (torch's argsort(descending=True)). */
  readonly order: Tensor;
}

/** Ranks keys [B, n] f32 per row in descending order by counting (exact; O(n²) per row). */
export function rankDescending(rt: Runtime, keys: Tensor): DescendingRank {
  if (keys.rank !== 2 || keys.dtype !== 'f32') throw new Error(`rankDescending: keys ${formatShape(keys.shape)} ${keys.dtype} must be [B, n] f32`);
  const [batch, n] = keys.shape as [number, number];
  const rank = rt.empty([batch, n], 'u32');
  const order = rt.empty([batch, n], 'u32');
  if (batch === 0 || n === 0) return { rank, order };
  rt.dispatch({
    pipeline: rt.pipeline('merge_rank', kernelSource('merge-rank.wgsl')),
    uniforms: new Uniforms().u32(n),
    bindings: [keys, rank, order],
    workgroups: [Math.ceil(n / 256), batch],
  });
  return { rank, order };
}

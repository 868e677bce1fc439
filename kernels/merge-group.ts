import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { rowTensor } from './merge-split.js';

export interface MergeGroups {
  /** [B, max(r, 1)] u32: the merged sources (indices into src) ordered by (destination, rank). */
  readonly grouped: Tensor;
  /** [B, n_dst] u32: end of each destination's run in `grouped` (its start is the previous end). */
  readonly segmentEnd: Tensor;
}

/**
 * Groups the r best-ranked sources of every row by their destination (a stable counting sort,
 * deterministic): rank and destination are [B, n_src] u32 from rankDescending / bestMatch.
 */
export function groupByDestination(rt: Runtime, rank: Tensor, destination: Tensor, nDst: number, r: number): MergeGroups {
  const batch = rank.shape[0] ?? 0;
  const nSrc = rowTensor('groupByDestination', 'rank', rank, batch, 'u32');
  if (rowTensor('groupByDestination', 'destination', destination, batch, 'u32') !== nSrc) {
    throw new Error(`groupByDestination: destination ${formatShape(destination.shape)} does not match rank ${formatShape(rank.shape)}`);
  }
  if (!Number.isInteger(r) || r < 0 || r > nSrc) throw new Error(`groupByDestination: r = ${r} outside 0..${nSrc}`);
  if (!Number.isInteger(nDst) || nDst < 1) throw new Error(`groupByDestination: ${nDst} destinations`);
  const grouped = rt.empty([batch, Math.max(r, 1)], 'u32');
  if (r === 0) return { grouped, segmentEnd: rt.zeros([batch, nDst], 'u32') };
  const segmentEnd = rt.empty([batch, nDst], 'u32');
  rt.dispatch({
    pipeline: rt.pipeline('merge_group', kernelSource('merge-group.wgsl')),
    uniforms: new Uniforms().u32(nSrc, nDst, r),
    bindings: [rank, destination, grouped, segmentEnd],
    workgroups: [Math.ceil(Math.max(nSrc, nDst) / 256), batch],
  });
  return { grouped, segmentEnd };
}

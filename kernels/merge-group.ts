import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { rowTensor } from './merge-split.js';
import { checkDeviceCount, type DeviceCount } from './device-count.js';
import { stableBucketSort } from './bucket-sort.js';

export interface MergeGroups {
  /**
   * [B, max(r, 1)] u32 (r on the GPU: [B, max(n_src, 1)], the first r of a row in use): the merged
   * sources (indices into src) ordered by (destination, rank).
   */
  readonly grouped: Tensor;
  /** [B, n_dst] u32: end of each destination's run in `grouped` (its start is the previous end). */
  readonly segmentEnd: Tensor;
}

/**
 * Groups the r best-ranked sources of every row by their destination (a stable counting sort,
 * deterministic): order (sources by descending similarity) and destination are [B, n_src] u32 from
 * rankDescending / bestMatch. r is a host number or a count on the GPU (≤ n_src; `grouped` then
 * has room for every source).
 */
export function groupByDestination(rt: Runtime, order: Tensor, destination: Tensor, nDst: number, r: number | DeviceCount): MergeGroups {
  const batch = order.shape[0] ?? 0;
  const nSrc = rowTensor('groupByDestination', 'order', order, batch, 'u32');
  if (rowTensor('groupByDestination', 'destination', destination, batch, 'u32') !== nSrc) {
    throw new Error(`groupByDestination: destination ${formatShape(destination.shape)} does not match order ${formatShape(order.shape)}`);
  }
  const onDevice = typeof r !== 'number';
  if (onDevice) checkDeviceCount('groupByDestination', 'r', r);
  else if (!Number.isInteger(r) || r < 0 || r > nSrc) throw new Error(`groupByDestination: r = ${r} outside 0..${nSrc}`);
  if (!Number.isInteger(nDst) || nDst < 1) throw new Error(`groupByDestination: ${nDst} destinations`);
  const stride = Math.max(onDevice ? nSrc : r, 1);
  // merged sources in rank order, stably sorted by destination = ordered by (destination, rank)
  const { sorted, bucketEnd } = stableBucketSort(rt, { sequence: order, bucket: destination, buckets: nDst, limit: r, stride });
  return { grouped: sorted, segmentEnd: bucketEnd };
}

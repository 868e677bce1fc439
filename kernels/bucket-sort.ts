// A stable sort of a sequence by small integer keys (buckets) on the GPU: items come out ordered by
// (bucket, position in the sequence), as a stable counting sort leaves them. Passes over chunks of
// 256 positions (bucket-sort-local / -columns / -ends / -place.wgsl), so the cost is O(n · 256 +
// chunks · buckets) whatever the distribution: one crowded bucket (a flat image region matching a
// single destination) costs what an even spread does.
import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { checkDeviceCount, countFunction, type DeviceCount } from './device-count.js';

const CHUNK = 256;

export interface BucketSortInput {
  /** [B, n] u32: the items in sequence order (a permutation of 0..n-1 per row). */
  readonly sequence: Tensor;
  /** [B, n] u32: each item's bucket, below `buckets`. */
  readonly bucket: Tensor;
  readonly buckets: number;
  /** Only positions below this take part: a host number or a count on the GPU (default n). */
  readonly limit?: number | DeviceCount;
  /** Row length of `sorted` (default n). */
  readonly stride?: number;
}

export interface BucketSorted {
  /** [B, stride] u32: the taking-part items by (bucket, position); entries past their count are unwritten. */
  readonly sorted: Tensor;
  /** [B, buckets] u32: inclusive ends, bucket d owning sorted slots end[d-1] .. end[d]. */
  readonly bucketEnd: Tensor;
}

export function stableBucketSort(rt: Runtime, input: BucketSortInput): BucketSorted {
  const { sequence, bucket, buckets } = input;
  if (sequence.rank !== 2 || sequence.dtype !== 'u32' || bucket.dtype !== 'u32' || bucket.shape.some((d, i) => d !== sequence.shape[i])) {
    throw new Error(`stableBucketSort: sequence ${formatShape(sequence.shape)} ${sequence.dtype} and bucket ${formatShape(bucket.shape)} ${bucket.dtype} must be the same [B, n] u32`);
  }
  if (!Number.isInteger(buckets) || buckets < 1) throw new Error(`stableBucketSort: ${buckets} buckets`);
  const [batch, n] = sequence.shape as [number, number];
  const limit = input.limit ?? n;
  if (typeof limit === 'number') {
    if (!Number.isInteger(limit) || limit < 0 || limit > n) throw new Error(`stableBucketSort: limit ${limit} outside 0..${n}`);
  } else checkDeviceCount('stableBucketSort', 'limit', limit);
  const stride = input.stride ?? n;
  const sorted = rt.empty([batch, Math.max(stride, 1)], 'u32');
  if (batch === 0 || n === 0 || limit === 0) return { sorted, bucketEnd: rt.zeros([batch, buckets], 'u32') };
  const bucketEnd = rt.empty([batch, buckets], 'u32');
  const chunks = Math.ceil(n / CHUNK);
  const onDevice = typeof limit !== 'number';
  const limitCode = (binding: number) => countFunction('seq_limit', binding, onDevice ? limit : undefined, 'p.limit');
  const hostLimit = onDevice ? 0 : limit;
  const limitBinding = onDevice ? [limit.tensor] : [];
  const tag = onDevice ? ' counted' : '';
  rt.tidy(() => {
    const localRank = rt.empty([batch, n], 'u32');
    const chunkCount = rt.zeros([batch, chunks, buckets], 'u32');
    rt.dispatch({
      pipeline: rt.pipeline(`bucket_sort_local${tag}`, kernelSource('bucket-sort-local.wgsl') + limitCode(5)),
      uniforms: new Uniforms().u32(n, buckets, chunks, hostLimit),
      bindings: [sequence, bucket, localRank, chunkCount, ...limitBinding],
      workgroups: [chunks, batch],
    });
    const uniforms = new Uniforms().u32(n, buckets, chunks, batch);
    rt.dispatch({
      pipeline: rt.pipeline('bucket_sort_columns', kernelSource('bucket-sort-columns.wgsl')),
      uniforms,
      bindings: [chunkCount, bucketEnd],
      workgroups: [Math.ceil(buckets / 256), batch],
    });
    rt.dispatch({ pipeline: rt.pipeline('bucket_sort_ends', kernelSource('bucket-sort-ends.wgsl')), uniforms, bindings: [bucketEnd], workgroups: [batch] });
    rt.dispatch({
      pipeline: rt.pipeline(`bucket_sort_place${tag}`, kernelSource('bucket-sort-place.wgsl') + limitCode(7)),
      uniforms: new Uniforms().u32(n, buckets, chunks, stride, hostLimit),
      bindings: [sequence, bucket, localRank, chunkCount, bucketEnd, sorted, ...limitBinding],
      workgroups: [chunks, batch],
    });
  });
  return { sorted, bucketEnd };
}

/** The inverse of a permutation per row, [B, n] u32: out[b, perm[b, i]] = i (positions ↔ sequence). */
export function invertPermutation(rt: Runtime, perm: Tensor): Tensor {
  if (perm.rank !== 2 || perm.dtype !== 'u32') throw new Error(`invertPermutation: ${perm} must be [B, n] u32`);
  const [batch, n] = perm.shape as [number, number];
  const out = rt.empty([batch, n], 'u32');
  if (batch > 0 && n > 0) {
    rt.dispatch({
      pipeline: rt.pipeline('bucket_sort_invert', kernelSource('bucket-sort-invert.wgsl')),
      uniforms: new Uniforms().u32(n),
      bindings: [perm, out],
      workgroups: [Math.ceil(n / CHUNK), batch],
    });
  }
  return out;
}

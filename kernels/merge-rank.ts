import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { invertPermutation, stableBucketSort } from './bucket-sort.js';

export interface DescendingRank {
  /** [B, n] u32: position of each key in its row sorted by descending value (ties by index). */
  readonly rank: Tensor;
  /** [B, n] u32: the inverse, key indices in that order (torch's argsort(descending=True)). */
  readonly order: Tensor;
}

const DIGIT_BITS = 11;

/**
 * Ranks keys [B, n] f32 per row in descending order (ties by index): an LSD radix sort, three
 * stable bucket sorts by 11-bit digits, so the cost grows linearly with n (tomesd's argsort over
 * 12288 sources at 1024² made the former O(n²) count the largest merge kernel).
 */
export function rankDescending(rt: Runtime, keys: Tensor): DescendingRank {
  if (keys.rank !== 2 || keys.dtype !== 'f32') throw new Error(`rankDescending: keys ${formatShape(keys.shape)} ${keys.dtype} must be [B, n] f32`);
  const [batch, n] = keys.shape as [number, number];
  if (batch === 0 || n === 0) return { rank: rt.empty([batch, n], 'u32'), order: rt.empty([batch, n], 'u32') };
  return rt.tidy(() => {
    const digits = [0, 1, 2].map(() => rt.empty([batch, n], 'u32'));
    const identity = rt.empty([batch, n], 'u32');
    rt.dispatch({
      pipeline: rt.pipeline('merge_rank_digits', kernelSource('merge-rank-digits.wgsl')),
      uniforms: new Uniforms().u32(n),
      bindings: [keys, ...digits, identity],
      workgroups: [Math.ceil(n / 256), batch],
    });
    let sequence = identity;
    for (const digit of digits) sequence = stableBucketSort(rt, { sequence, bucket: digit, buckets: 1 << DIGIT_BITS }).sorted;
    return { rank: invertPermutation(rt, sequence), order: sequence };
  });
}

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { invertPermutation, stableBucketSort } from '../../kernels/bucket-sort.js';
import { shuffled } from './merge-reference.js';

/** Items with position < limit, ordered by (bucket, position); and each bucket's inclusive end. */
function reference(position: number[], bucket: number[], batch: number, n: number, buckets: number, limit: number) {
  const sorted: number[][] = [];
  const ends: number[] = [];
  for (let b = 0; b < batch; b++) {
    const items = Array.from({ length: n }, (_, i) => i).filter((i) => position[b * n + i]! < limit);
    items.sort((x, y) => bucket[b * n + x]! - bucket[b * n + y]! || position[b * n + x]! - position[b * n + y]!);
    sorted.push(items);
    let run = 0;
    for (let d = 0; d < buckets; d++) {
      run += items.filter((i) => bucket[b * n + i] === d).length;
      ends.push(run);
    }
  }
  return { sorted, ends };
}

t.test('stable bucket sort matches a TS reference, also with one crowded bucket and a GPU limit', async (t) => {
  const rt = await testRuntime();
  // [batch, n, buckets, limits, distribution]
  const cases: [number, number, number, number[], 'spread' | 'crowded'][] = [
    [2, 700, 37, [700, 0, 1, 513], 'spread'],
    [1, 1030, 5000, [1030, 300], 'crowded'],
    [3, 17, 1, [17, 9], 'spread'],
  ];
  for (const [batch, n, buckets, limits, how] of cases) {
    const position = Array.from({ length: batch }, (_, b) => shuffled(n, 3 + b)).flat();
    const bucket = Array.from({ length: batch * n }, (_, i) =>
      how === 'crowded' ? (i % 7 === 0 ? (i * 31) % buckets : 4321 % buckets) : (i * 7919 + (i >> 3)) % buckets,
    );
    for (const limit of limits) {
      const want = reference(position, bucket, batch, n, buckets, limit);
      for (const onGpu of [false, true]) {
        const label = `[${batch}, ${n}] ${buckets} buckets ${how}, limit ${limit}${onGpu ? ' on the GPU' : ''}`;
        const out = rt.tidy(() => {
          const pos = rt.upload(Uint32Array.from(position), [batch, n], 'u32');
          const bk = rt.upload(Uint32Array.from(bucket), [batch, n], 'u32');
          const lim = onGpu ? { tensor: rt.upload(Uint32Array.from([5, limit]), [2], 'u32'), index: 1 } : limit;
          return stableBucketSort(rt, { sequence: invertPermutation(rt, pos), bucket: bk, buckets, limit: lim });
        });
        const sorted = await rt.readU32(out.sorted);
        const got = Array.from({ length: batch }, (_, b) => [...sorted.subarray(b * n, b * n + want.sorted[b]!.length)]);
        t.same(got, want.sorted, `${label}: order`);
        t.same([...(await rt.readU32(out.bucketEnd))], want.ends, `${label}: bucket ends`);
        out.sorted.dispose();
        out.bucketEnd.dispose();
      }
    }
  }
  t.throws(() => rt.tidy(() => stableBucketSort(rt, { sequence: rt.zeros([2, 4], 'u32'), bucket: rt.zeros([2, 5], 'u32'), buckets: 3 })), /same \[B, n\]/);
});

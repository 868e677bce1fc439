import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { rankDescending } from '../../kernels/merge-rank.js';
import { countAtLeast } from '../../kernels/merge-count.js';
import { referenceRank } from './merge-reference.js';

t.test('descending rank matches a stable sort, ties in index order', async (t) => {
  const rt = await testRuntime();
  for (const [batch, n] of [[2, 300], [3, 1], [1, 513]] as const) {
    const keys = seededValues(batch * n, n);
    // repeated values: ties must keep index order
    for (let i = 0; i + 7 < keys.length; i += 7) keys[i + 7] = keys[i]!;
    const { rank, order } = rt.tidy(() => rankDescending(rt, rt.upload(keys, [batch, n], 'f32')));
    const want = referenceRank(keys, batch, n);
    t.same([...(await rt.readU32(rank))], want.rank, `[${batch}, ${n}]: rank`);
    t.same([...(await rt.readU32(order))], want.order, `[${batch}, ${n}]: order`);
    rank.dispose();
    order.dispose();
  }
  // signs, ±0 (equal: index order), tiny values and a crowd of equal near-1 similarities
  const special = [0.5, -0, 0, -1, -0.25, 3e38, -3e38, 1, 0.9999, 1e-30, -1e-30, 0];
  const crowded = Float32Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? special[i % special.length]! : 0.99990004));
  const { rank, order } = rt.tidy(() => rankDescending(rt, rt.upload(crowded, [1, crowded.length], 'f32')));
  const want = referenceRank(crowded, 1, crowded.length);
  t.same([...(await rt.readU32(rank))], want.rank, 'special values: rank');
  t.same([...(await rt.readU32(order))], want.order, 'special values: order');
  rank.dispose();
  order.dispose();
});

t.test('threshold counts per row and their maximum', async (t) => {
  const rt = await testRuntime();
  for (const [batch, n, threshold] of [[2, 700, 0.3], [3, 5, -2], [1, 257, 0.7]] as const) {
    const keys = seededValues(batch * n, 3 * n);
    keys[0] = Math.fround(threshold); // equal to the f32 threshold: counts
    const counts = rt.tidy(() => countAtLeast(rt, rt.upload(keys, [batch, n], 'f32'), threshold));
    const want = Array.from({ length: batch }, (_, b) => keys.subarray(b * n, (b + 1) * n).filter((v) => v >= Math.fround(threshold)).length);
    t.same([...(await rt.readU32(counts))], [...want, Math.max(...want)], `[${batch}, ${n}] ≥ ${threshold}`);
    counts.dispose();
    // with the sequence length: the merged length it leaves, too
    const tokens = n + 13;
    const withLength = rt.tidy(() => countAtLeast(rt, rt.upload(keys, [batch, n], 'f32'), threshold, tokens));
    t.same([...(await rt.readU32(withLength))], [...want, Math.max(...want), tokens - Math.max(...want)], `[${batch}, ${n}] ≥ ${threshold} of ${tokens} tokens`);
    withLength.dispose();
  }
});

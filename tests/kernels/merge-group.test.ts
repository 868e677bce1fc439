import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { groupByDestination } from '../../kernels/merge-group.js';
import { mergedPositions } from '../../kernels/merge-token-map.js';
import { referenceGroups, referencePositions, shuffled } from './merge-reference.js';

t.test('grouping merged sources by destination and the merged positions match a TS reference', async (t) => {
  const rt = await testRuntime();
  // [batch, n_src, n_dst, r values]
  const cases: [number, number, number, number[]][] = [
    [2, 301, 100, [0, 1, 150, 301]],
    [1, 3, 400, [2]],
  ];
  for (const [batch, nSrc, nDst, rs] of cases) {
    const rank = Array.from({ length: batch }, (_, b) => shuffled(nSrc, 5 + b)).flat();
    // the sources by rank: the inverse permutation per row
    const order = new Array<number>(rank.length);
    rank.forEach((k, i) => (order[Math.floor(i / nSrc) * nSrc + k] = i % nSrc));
    // destinations crowd onto a few so runs are long
    const dest = Array.from({ length: batch * nSrc }, (_, i) => ((i * 7919) % 13) * Math.floor(nDst / 13) + (i % 2));
    const split = shuffled(nSrc + nDst, 9);
    const dst = split.slice(0, nDst);
    const src = split.slice(nDst);
    for (const r of rs) {
      const label = `[${batch}, ${nSrc}] → ${nDst}, r ${r}`;
      const out = rt.tidy(() => {
        const rankT = rt.upload(Uint32Array.from(rank), [batch, nSrc], 'u32');
        const destT = rt.upload(Uint32Array.from(dest), [batch, nSrc], 'u32');
        const g = groupByDestination(rt, rt.upload(Uint32Array.from(order), [batch, nSrc], 'u32'), destT, nDst, r);
        const pos = mergedPositions(rt, rankT, destT, rt.upload(Uint32Array.from(src), [nSrc], 'u32'), rt.upload(Uint32Array.from(dst), [nDst], 'u32'), r);
        return { ...g, pos };
      });
      const want = referenceGroups(rank, dest, batch, nSrc, nDst, r);
      const grouped = [...(await rt.readU32(out.grouped))];
      t.same(r === 0 ? want.grouped : grouped, want.grouped, `${label}: grouped`);
      t.same([...(await rt.readU32(out.segmentEnd))], want.segmentEnd, `${label}: run ends`);
      t.same([...(await rt.readU32(out.pos))], referencePositions(rank, dest, src, dst, batch, r), `${label}: positions`);
      Object.values(out).forEach((v) => v.dispose());

      // r on the GPU (element 1 of a count tensor): grouped has room for every source, r in use
      const onGpu = rt.tidy(() => {
        const rankT = rt.upload(Uint32Array.from(rank), [batch, nSrc], 'u32');
        const destT = rt.upload(Uint32Array.from(dest), [batch, nSrc], 'u32');
        const count = { tensor: rt.upload(Uint32Array.from([7, r, 9]), [3], 'u32'), index: 1 };
        const g = groupByDestination(rt, rt.upload(Uint32Array.from(order), [batch, nSrc], 'u32'), destT, nDst, count);
        const pos = mergedPositions(rt, rankT, destT, rt.upload(Uint32Array.from(src), [nSrc], 'u32'), rt.upload(Uint32Array.from(dst), [nDst], 'u32'), count);
        return { ...g, pos };
      });
      t.same(onGpu.grouped.shape, [batch, nSrc], `${label} (r on the GPU): grouped capacity`);
      const groupedGpu = await rt.readU32(onGpu.grouped);
      const inUse = Array.from({ length: batch }, (_, b) => [...groupedGpu.subarray(b * nSrc, b * nSrc + r)]).flat();
      t.same(inUse, r === 0 ? [] : want.grouped, `${label} (r on the GPU): grouped`);
      t.same([...(await rt.readU32(onGpu.segmentEnd))], want.segmentEnd, `${label} (r on the GPU): run ends`);
      t.same([...(await rt.readU32(onGpu.pos))], referencePositions(rank, dest, src, dst, batch, r), `${label} (r on the GPU): positions`);
      Object.values(onGpu).forEach((v) => v.dispose());
    }
  }
  t.throws(() => rt.tidy(() => groupByDestination(rt, rt.zeros([1, 4], 'u32'), rt.zeros([1, 4], 'u32'), 2, 5)), /r = 5/);
});

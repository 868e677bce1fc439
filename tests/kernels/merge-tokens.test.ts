import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { mergeTokens } from '../../kernels/merge-tokens.js';
import { unmergeTokens } from '../../kernels/merge-unmerge.js';
import { referenceGroups, referenceMerge, referencePositions, referenceRank, shuffled } from './merge-reference.js';

t.test('merge (mean into destinations), unmerge and fused unmerge-add match a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // [batch, tokens, channels, n_dst, r]
  const cases: [number, number, number, number, number][] = [
    [2, 117, 33, 24, 40],
    [1, 30, 7, 5, 25],
    [2, 16, 5, 4, 0],
  ];
  for (const dtype of dtypes) {
    for (const [batch, tokens, channels, nDst, r] of cases) {
      const label = `${dtype} [${batch}, ${tokens}, ${channels}] dst ${nDst} r ${r}`;
      const nSrc = tokens - nDst;
      let x = seededValues(batch * tokens * channels, tokens);
      if (dtype === 'f16') x = roundToF16(x);
      const split = shuffled(tokens, 3);
      const dst = split.slice(0, nDst);
      const src = split.slice(nDst);
      const { rank, order } = referenceRank(seededValues(batch * nSrc, 99), batch, nSrc);
      const dest = Array.from({ length: batch * nSrc }, (_, i) => (i * 31) % Math.max(1, Math.floor(nDst / 2)));
      const { grouped, segmentEnd } = referenceGroups(rank, dest, batch, nSrc, nDst, r);
      const merged = nSrc - r + nDst;
      let residual = seededValues(batch * tokens * channels, 5);
      let y = seededValues(batch * merged * channels, 6);
      if (dtype === 'f16') [residual, y] = [roundToF16(residual), roundToF16(y)];
      const u32 = (a: number[], shape: number[]) => rt.upload(Uint32Array.from(a), shape, 'u32');
      const out = rt.tidy(() => {
        const m = mergeTokens(rt, rt.upload(x, [batch, tokens, channels], dtype), {
          src: u32(src, [nSrc]),
          dst: u32(dst, [nDst]),
          order: u32(order, [batch, nSrc]),
          grouped: u32(grouped, [batch, Math.max(r, 1)]),
          segmentEnd: u32(segmentEnd, [batch, nDst]),
          r,
        });
        const pos = u32(referencePositions(rank, dest, src, dst, batch, r), [batch, tokens]);
        const yt = rt.upload(y, [batch, merged, channels], dtype);
        return { m, u: unmergeTokens(rt, yt, pos), ua: unmergeTokens(rt, yt, pos, rt.upload(residual, [batch, tokens, channels], dtype)) };
      });
      t.same(out.m.shape, [batch, merged, channels], `${label}: merged shape`);
      const wantMerged = referenceMerge(x, [batch, tokens, channels], src, dst, order, dest, r);
      const errMerged = maxRelError(await rt.read(out.m), dtype === 'f16' ? roundToF16(wantMerged) : wantMerged);
      t.ok(dtype === 'f32' ? errMerged === 0 : errMerged <= KERNEL_TOLERANCE.f16, `${label}: merged (${errMerged.toExponential(2)})`);
      const pos = referencePositions(rank, dest, src, dst, batch, r);
      const wantU = new Float32Array(batch * tokens * channels).map((_, e) => {
        const c = e % channels;
        const bt = Math.floor(e / channels);
        const b = Math.floor(bt / tokens);
        return y[(b * merged + pos[bt]!) * channels + c]!;
      });
      t.equal(maxRelError(await rt.read(out.u), wantU), 0, `${label}: unmerge`);
      const wantUA = wantU.map((v, e) => v + residual[e]!);
      t.ok(maxRelError(await rt.read(out.ua), wantUA) <= KERNEL_TOLERANCE[dtype], `${label}: unmerge + residual`);
      Object.values(out).forEach((v) => v.dispose());

      // r on the GPU: the merged tensor keeps N rows (merged rows, then zeros); grouped has a row
      // of n_src; the unmerge gathers from a capacity-sized y whose rows past the count are NaN
      const stride = Math.max(nSrc, 1);
      const groupedCap = Array.from({ length: batch * stride }, (_, i) => {
        const b = Math.floor(i / stride);
        return i % stride < r ? grouped[b * Math.max(r, 1) + (i % stride)]! : 0;
      });
      const yCap = new Float32Array(batch * tokens * channels).map((_, e) => {
        const row = Math.floor(e / channels) % tokens;
        const b = Math.floor(e / (tokens * channels));
        return row < merged ? y[(b * merged + row) * channels + (e % channels)]! : NaN;
      });
      const gpu = rt.tidy(() => {
        const count = { tensor: rt.upload(Uint32Array.from([3, r]), [2], 'u32'), index: 1 };
        const m = mergeTokens(rt, rt.upload(x, [batch, tokens, channels], dtype), {
          src: u32(src, [nSrc]),
          dst: u32(dst, [nDst]),
          order: u32(order, [batch, nSrc]),
          grouped: u32(groupedCap, [batch, stride]),
          segmentEnd: u32(segmentEnd, [batch, nDst]),
          r: count,
        });
        const pos = u32(referencePositions(rank, dest, src, dst, batch, r), [batch, tokens]);
        return { m, u: unmergeTokens(rt, rt.upload(yCap, [batch, tokens, channels], dtype), pos) };
      });
      t.same(gpu.m.shape, [batch, tokens, channels], `${label} (r on the GPU): merged capacity`);
      const capacity = await rt.read(gpu.m);
      const rowsOf = (b: number) => capacity.subarray(b * tokens * channels, b * tokens * channels + merged * channels);
      const head = Float32Array.from(Array.from({ length: batch }, (_, b) => [...rowsOf(b)]).flat());
      const errGpu = maxRelError(head, dtype === 'f16' ? roundToF16(wantMerged) : wantMerged);
      t.ok(dtype === 'f32' ? errGpu === 0 : errGpu <= KERNEL_TOLERANCE.f16, `${label} (r on the GPU): merged rows (${errGpu.toExponential(2)})`);
      const tail = capacity.filter((_, e) => Math.floor(e / channels) % tokens >= merged);
      t.ok(tail.every((v) => v === 0), `${label} (r on the GPU): zeros past the merged rows`);
      t.equal(maxRelError(await rt.read(gpu.u), wantU), 0, `${label} (r on the GPU): unmerge from capacity`);
      Object.values(gpu).forEach((v) => v.dispose());
    }
  }
  t.throws(() => rt.tidy(() => unmergeTokens(rt, rt.zeros([1, 3, 4]), rt.zeros([1, 5], 'u32'), rt.zeros([1, 5, 3]))), /residual/);
});

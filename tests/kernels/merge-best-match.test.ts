import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { tokenNorms } from '../../kernels/merge-norms.js';
import { bestMatch, type BestMatchPath } from '../../kernels/merge-best-match.js';
import { referenceBestMatch, shuffled } from './merge-reference.js';

t.test('token norms and best matches match a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // [batch, tokens, channels, destinations, per-row split]: partial 64-tiles and 16-channel steps;
  // 4 KiB score blocks split the GEMM path's sources into several blocks
  const cases: [number, number, number, number, boolean][] = [
    [2, 137, 37, 67, false],
    [3, 90, 16, 9, true],
    [1, 5, 3, 1, false],
  ];
  const paths: BestMatchPath[] = ['fused', 'gemm'];
  for (const [dtype, path] of dtypes.flatMap((dt) => paths.map((p) => [dt, p] as const))) {
    for (const [batch, tokens, channels, nDst, perRow] of cases) {
      const label = `${dtype} ${path} [${batch}, ${tokens}, ${channels}] dst ${nDst}${perRow ? ' per row' : ''}`;
      let x = seededValues(batch * tokens * channels, tokens + channels);
      // a destination repeated exactly: its twin ties and the first must win
      if (dtype === 'f16') x = roundToF16(x);
      const splits = Array.from({ length: perRow ? batch : 1 }, (_, b) => shuffled(tokens, 11 + b));
      const dstOf = (b: number) => splits[perRow ? b : 0]!.slice(0, nDst);
      const srcOf = (b: number) => splits[perRow ? b : 0]!.slice(nDst);
      if (nDst > 1) {
        for (let b = 0; b < batch; b++) {
          const [d0, d1] = [dstOf(b)[0]!, dstOf(b)[1]!];
          x.copyWithin((b * tokens + d1) * channels, (b * tokens + d0) * channels, (b * tokens + d0 + 1) * channels);
        }
      }
      const shape = [batch, tokens, channels];
      const want = referenceBestMatch(x, shape, srcOf, dstOf);
      const upload = (f: (b: number) => number[]) =>
        perRow ? rt.upload(Uint32Array.from(Array.from({ length: batch }, (_, b) => f(b)).flat()), [batch, f(0).length], 'u32') : rt.upload(Uint32Array.from(f(0)), [f(0).length], 'u32');
      const { norms, similarity, destination } = rt.tidy(() => {
        const xt = rt.upload(x, shape, dtype);
        const norms = tokenNorms(rt, xt);
        return { norms, ...bestMatch(rt, xt, norms, upload(srcOf), upload(dstOf), { path, scoreBlockBytes: 4096 }) };
      });
      const wantNorms = Array.from({ length: batch * tokens }, (_, r) => Math.sqrt(x.subarray(r * channels, (r + 1) * channels).reduce((s, v) => s + v * v, 0)));
      t.ok(maxRelError(await rt.read(norms), wantNorms) <= 1e-6, `${label}: norms`);
      const gotSim = await rt.read(similarity);
      const gotDst = await rt.readU32(destination);
      const tol = KERNEL_TOLERANCE[dtype];
      t.ok(maxRelError(gotSim, want.similarity) <= tol, `${label}: similarity (${maxRelError(gotSim, want.similarity).toExponential(2)})`);
      // the index must be the reference's wherever the runner-up is not within rounding of the best
      // (the GEMM path rounds unit vectors and scores to the model dtype, as tomesd's fp16 matmul does)
      const margin = path === 'gemm' && dtype === 'f16' ? 4e-3 : 1e-5;
      const wrong = want.destination.filter((d, i) => d !== gotDst[i] && want.gap[i]! > margin).length;
      t.equal(wrong, 0, `${label}: destinations`);
      if (nDst > 1) {
        const twins = want.destination.filter((d, i) => d === 0 && gotDst[i] === 1).length;
        t.equal(twins, 0, `${label}: an exact tie goes to the first destination`);
      }
      [norms, similarity, destination].forEach((v) => v.dispose());
    }
  }
  t.throws(() => rt.tidy(() => bestMatch(rt, rt.zeros([1, 4, 8]), rt.zeros([1, 3]), rt.zeros([3], 'u32'), rt.zeros([1], 'u32'))), /norms/);
  t.throws(() => rt.tidy(() => bestMatch(rt, rt.zeros([2, 4, 8]), rt.zeros([2, 4]), rt.zeros([3, 3], 'u32'), rt.zeros([1], 'u32'))), /src indices/);
});

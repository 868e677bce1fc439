import type { BenchCase } from './case.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { DType } from '../../runtime/dtype.js';
import { gridPartition } from '../../merge/partition.js';
import { matchBipartite, planMerge, type BipartiteMatch, type TokenPartition } from '../../merge/bipartite.js';
import { tokenNorms } from '../../kernels/merge-norms.js';
import { bestMatch, type BestMatchPath } from '../../kernels/merge-best-match.js';
import { rankDescending } from '../../kernels/merge-rank.js';

// SD 1.5's full-resolution transformer blocks under CFG: [2, N, 320] at 512² (64² latent) and 1024².
const grids = [64, 128];
const CHANNELS = 320;
const BATCH = 2;

interface Inputs {
  x: Tensor;
  partition: TokenPartition;
  match: BipartiteMatch;
  dispose(): void;
}

function inputs(rt: Runtime, side: number, dtype: DType): Inputs {
  const n = side * side * CHANNELS * BATCH;
  const x = rt.upload(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731) + Math.cos(i * 0.0173)), [BATCH, side * side, CHANNELS], dtype);
  const partition = gridPartition(rt, side, side, { sx: 2, sy: 2 });
  const match = matchBipartite(rt, x, partition);
  return {
    x,
    partition,
    match,
    dispose: () => {
      match.dispose();
      [x, partition.src, partition.dst].forEach((t) => t.dispose());
    },
  };
}

export const mergeCases: BenchCase[] = grids.flatMap((side): BenchCase[] => {
  const tokens = side * side;
  const nDst = tokens / 4;
  const nSrc = tokens - nDst;
  const r = tokens / 2;
  const label = `${BATCH}x${tokens}x${CHANNELS}`;
  return (['f32', 'f16'] as DType[]).flatMap((dtype): BenchCase[] => {
    const size = dtype === 'f32' ? 4 : 2;
    return [
      ...(['fused', 'gemm'] as BestMatchPath[]).map(
        (path): BenchCase => ({
          name: `merge best-match ${path} ${label}`,
          kernel: 'merge',
          dtype,
          flops: 2 * BATCH * nSrc * nDst * CHANNELS,
          bytes: BATCH * tokens * CHANNELS * size,
          setup(rt) {
            const s = inputs(rt, side, dtype);
            const norms = tokenNorms(rt, s.x);
            return {
              run: () => rt.tidy(() => void bestMatch(rt, s.x, norms, s.partition.src, s.partition.dst, { path })),
              dispose: () => (norms.dispose(), s.dispose()),
            };
          },
        }),
      ),
      {
        name: `merge match (norms+best+rank) ${label}`,
        kernel: 'merge',
        dtype,
        flops: 2 * BATCH * nSrc * nDst * CHANNELS,
        bytes: BATCH * tokens * CHANNELS * size,
        setup(rt) {
          const s = inputs(rt, side, dtype);
          return { run: () => rt.tidy(() => matchBipartite(rt, s.x, s.partition).dispose()), dispose: () => s.dispose() };
        },
      },
      {
        name: `merge plan+merge+unmergeAdd r=${r} ${label}`,
        kernel: 'merge',
        dtype,
        flops: 0,
        bytes: 3 * BATCH * tokens * CHANNELS * size,
        setup(rt) {
          const s = inputs(rt, side, dtype);
          return {
            run: () =>
              rt.tidy(() => {
                const plan = planMerge(rt, s.match, r);
                plan.unmergeAdd(plan.merge(s.x), s.x);
                plan.dispose();
              }),
            dispose: () => s.dispose(),
          };
        },
      },
    ];
  }).concat([
    {
      name: `merge rank ${BATCH}x${nSrc}`,
      kernel: 'merge',
      dtype: 'f32',
      flops: 0,
      bytes: BATCH * nSrc * 12,
      setup(rt) {
        const keys = rt.upload(Float32Array.from({ length: BATCH * nSrc }, (_, i) => Math.sin(i * 12.9898) * 0.5), [BATCH, nSrc], 'f32');
        return { run: () => rt.tidy(() => void rankDescending(rt, keys)), dispose: () => keys.dispose() };
      },
    },
  ]);
});

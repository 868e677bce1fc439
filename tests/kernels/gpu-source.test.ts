import t from 'tap';
import { kernelCode as gemmCode, variantName, variantProblem, type GemmProblem, type MatrixVariant } from '../../kernels/gemm.js';
import { kernelCode as attentionCode, attentionVariantName, attentionVariantProblem, type AttentionProblem, type MatrixVariant as AttentionMatrix } from '../../kernels/attention.js';
import type { Tensor } from '../../runtime/tensor.js';
import { matrixDevice } from '../support/matrix-device.js';

// CI's CPU driver has no subgroup matrices and keeps loops rolled, so the unrolled, scalarized WGSL
// that GPUs compile is never built there by the kernel tests. These build it for every tile shape
// and layout the engine or the sweeps can pick (a leftover array use or loop marker fails the
// build), so a mistake there shows up in CI instead of on the GPU machine.
const rt = matrixDevice();
const frag = rt.features.subgroupMatrixConfigs[0]!;
const f16 = { dtype: 'f16' } as unknown as Tensor;

function problem(mode: GemmProblem['mode'], m: number, n: number, k: number, batch = 1): GemmProblem {
  const conv =
    mode === 'conv'
      ? { cin: k / 9, h: 64, w: 64, wo: 64, pixels: 4096, kernel: 3 as const, stride: 1 as const, padTop: 1, padLeft: 1 }
      : undefined;
  return { label: 'test', mode, m, n, k, batch, a: f16, b: f16, out: f16, aBatch: 0, bBatch: 0, outBatch: 0, conv };
}

const problems: GemmProblem[] = [
  problem('kn', 4096, 4096, 4096),
  problem('nk', 8192, 1280, 320),
  problem('kn', 517, 1280, 320),
  // the bar conv's im2col GEMM, image by image
  problem('kn', 320, 4096, 2880, 2),
  problem('conv', 320, 8192, 2880),
];

const tiles: [number, number, number, number, number][] = [
  [2, 2, 2, 2, 32],
  [2, 2, 2, 2, 16],
  [4, 2, 2, 2, 32],
  [2, 4, 2, 2, 32],
  [4, 4, 2, 2, 16],
  [4, 4, 2, 2, 32],
  [2, 2, 4, 2, 32],
  [5, 2, 2, 2, 32],
  [5, 4, 2, 2, 16],
];
const extras: Partial<MatrixVariant>[] = [{}, { splitK: 2 }, { results: 'memory' }, { splitK: 2, results: 'memory' }, { groupM: 8 }, { ahead: 2 }, { ahead: 3 }, { results: 'memory', ahead: 2 }, { results: 'memory', ahead: 3 }, { results: 'memory', ahead: 3, streamK: 132 }];

t.test('GEMM: the unrolled hardware source builds for every tile shape and layout', async (t) => {
  let built = 0;
  for (const p of problems) {
    for (const [sgM, sgN, fm, fn, bk] of tiles) {
      for (const extra of extras) {
        const v: MatrixVariant = { kind: 'tc', sgM, sgN, fm, fn, bk, frag, ...extra };
        if (variantProblem(rt, p, v) !== null) continue;
        const code = gemmCode(rt, p, v);
        if (/\/\/ (unroll|scalarize)\b/.test(code)) t.fail(`${p.mode} ${variantName(v)}: markers left`);
        built++;
      }
    }
    const direct: MatrixVariant = { kind: 'tc-direct', sgM: 2, sgN: 2, fm: 2, fn: 2, bk: 16, frag };
    if (variantProblem(rt, p, direct) === null) {
      gemmCode(rt, p, direct);
      built++;
    }
  }
  t.ok(built > 60, `${built} variants built`);
});

t.test('attention: the unrolled hardware source builds for every tile shape', async (t) => {
  let built = 0;
  for (const d of [40, 64, 80, 160]) {
    for (const causal of [false, true]) {
      const p: AttentionProblem = { batch: 2, nq: 4096, nk: 4096, heads: 8, headDim: d, dtype: 'f16', causal, scale: 1 / Math.sqrt(d) };
      for (const subgroups of [1, 2, 4, 8]) {
        for (const rowFrags of [1, 2]) {
          for (const keyBlock of [32, 64]) {
            for (const kv of ['staged', 'direct'] as const) {
              for (const ring of [false, true]) {
                const v: AttentionMatrix = { kind: 'mma', frag: { M: 16, N: 16, K: 16 }, subgroups, rowFrags, keyBlock, kv, prefetch: true, ring, rolled: false };
                if (attentionVariantProblem(rt, p, v) !== null) continue;
                const code = attentionCode(p, v);
                if (/\/\/ (unroll|scalarize)\b/.test(code)) t.fail(`${attentionVariantName(v)}: markers left`);
                built++;
              }
            }
          }
        }
      }
    }
  }
  t.ok(built > 40, `${built} variants built`);
});

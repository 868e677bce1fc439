import t from 'tap';
import { chooseVariant, variantName, type GemmProblem } from '../../kernels/gemm.js';
import { conv2dVariant } from '../../kernels/conv2d.js';
import { matrixDevice } from '../support/matrix-device.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';

const f16 = { dtype: 'f16' } as unknown as Tensor;

/** A batched weight · B GEMM as conv2d lowers a convolution through im2col. */
function im2colConv(cout: number, cin: number, size: number, batch: number): GemmProblem {
  const k = cin * 9;
  const n = size * size;
  return { label: 'conv2d', mode: 'kn', m: cout, n, k, batch, a: f16, b: f16, out: f16, aBatch: 0, bBatch: k * n, outBatch: cout * n, biasPerRow: true, im2col: true };
}

function plainMatmul(m: number, k: number, n: number): GemmProblem {
  return { label: 'matmul', mode: 'kn', m, n, k, batch: 1, a: f16, b: f16, out: f16, aBatch: 0, bBatch: 0, outBatch: 0 };
}

t.test('GEMM variants chosen for the U-Net shapes, with and without the split-by-subgroups candidate', async (t) => {
  const cases: [string, GemmProblem, string, string][] = [
    // Im2col convs with whole 128-pixel tiles and channels in 160s: 160x128 tiles through memory,
    // split towards one workgroup per SM either way; other channel counts: 64x128 tiles, split by
    // subgroups.
    ['bar conv 320→320 64² b2', im2colConv(320, 320, 64, 2), 'tc 160x128 k32 sg5x4 f16x16x16 ahead2 via-memory', 'tc 160x128 k32 sg5x4 f16x16x16 ahead2 via-memory'],
    ['conv 640→640 32² b2', im2colConv(640, 640, 32, 2), 'tc 160x128 k32 sg5x4 f16x16x16 split2 ahead2 via-memory', 'tc 160x128 k32 sg5x4 f16x16x16 split2 ahead2 via-memory'],
    ['conv 1280→1280 16² b2', im2colConv(1280, 1280, 16, 2), 'tc 160x128 k32 sg5x4 f16x16x16 split4 ahead2 via-memory', 'tc 160x128 k32 sg5x4 f16x16x16 split4 ahead2 via-memory'],
    ['VAE conv 256→256 64² b1', im2colConv(256, 256, 64, 1), 'tc 64x128 k16 sg2x4 f16x16x16 split3 ahead2', 'tc 64x128 k16 sg2x4 f16x16x16 split3 ahead2'],
    ['the same GEMM not from im2col', { ...im2colConv(640, 640, 32, 2), im2col: false }, 'tc 64x64 k32 sg2x2 f16x16x16', 'tc 64x64 k32 sg2x2 f16x16x16 split4'],
    // Few workgroups: both split by the workgroup count (40 tiles, 360 K steps).
    ['deep conv 1280→1280 8² b2', im2colConv(1280, 1280, 8, 2), 'tc 64x64 k32 sg2x2 f16x16x16 split8', 'tc 64x64 k32 sg2x2 f16x16x16 split8'],
    // Deep K: results through memory, K steps of 32; shallow K: K steps of 16.
    // ... and on an H100 (132 SMs) stream-K for one batch matrix.
    ['matmul 4096³', plainMatmul(4096, 4096, 4096), 'tc 128x128 k32 sg4x4 f16x16x16 ahead3 sk132 via-memory', 'tc 128x128 k32 sg4x4 f16x16x16 ahead3 sk132 via-memory'],
    ['batched matmul 2x4096x1024x4096', { ...plainMatmul(4096, 1024, 4096), batch: 2 }, 'tc 128x128 k32 sg4x4 f16x16x16 ahead3 via-memory', 'tc 128x128 k32 sg4x4 f16x16x16 ahead3 via-memory'],
    ['matmul 8192x320x1280', plainMatmul(8192, 320, 1280), 'tc 128x128 k16 sg4x4 f16x16x16', 'tc 128x128 k16 sg4x4 f16x16x16'],
  ];
  for (const [name, p, plain, withCandidate] of cases) {
    t.equal(variantName(chooseVariant(matrixDevice(), p)), plain, `${name}: default`);
    t.equal(variantName(chooseVariant(matrixDevice(['gemm-split-warps']), p)), withCandidate, `${name}: gemm-split-warps`);
  }
});

t.test('3x3 convs with tensor cores go through im2col', async (t) => {
  const tensor = (shape: number[]) => ({ shape, rank: shape.length, dtype: 'f16' }) as unknown as Tensor;
  const conv = (rt: Runtime, cin: number, cout: number, size: number, stride: 1 | 2 = 1) =>
    conv2dVariant(rt, tensor([2, cin, size, size]), tensor([cout, cin, 3, 3]), { padding: 1, stride });
  t.equal(conv(matrixDevice(), 320, 320, 64), 'im2col tc 160x128 k32 sg5x4 f16x16x16 ahead2 via-memory', 'bar conv');
  t.match(conv(matrixDevice(), 1280, 1280, 8), /^im2col /, 'deepest level');
  t.match(conv(matrixDevice(), 320, 320, 64, 2), /^im2col /, 'stride 2');
});

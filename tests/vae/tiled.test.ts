import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { DType, FloatDType } from '../../runtime/dtype.js';
import { upsampleNearest2x } from '../../kernels/resample.js';
import { groupNorm } from '../../kernels/norm.js';
import { decodeInTiles, tileSpans } from '../../vae/tiled-decode.js';
import { loadTinyVae } from './fixture.js';
import { diffusersTiledDecode, type HostImage } from './tiled-reference.js';

async function toHost(rt: Runtime, x: Tensor): Promise<HostImage> {
  return { shape: x.shape as [number, number, number, number], data: await rt.read(x) };
}

t.test('tileSpans: diffusers range(0, n, stride) with clipped tiles', async (t) => {
  t.same(tileSpans(256, 64, 48).map((s) => [s.start, s.size]), [[0, 64], [48, 64], [96, 64], [144, 64], [192, 64], [240, 16]]);
  t.same(tileSpans(5, 8, 6), [{ start: 0, size: 5 }]);
});

// A stand-in decoder that is cheap but depends on the whole tile (a per-tile group norm), so
// wrong blend weights or misplaced tiles cannot cancel out between neighbours.
t.test('the tiling loop reproduces diffusers tiled_decode exactly (stand-in decoder)', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const cases: { shape: [number, number, number, number]; tile: number; overlap: number; trim?: boolean }[] = [
    { shape: [1, 2, 10, 13], tile: 4, overlap: 1 },
    { shape: [2, 3, 9, 7], tile: 5, overlap: 2, trim: true },
    { shape: [1, 1, 6, 6], tile: 4, overlap: 3 },
    { shape: [1, 2, 8, 8], tile: 4, overlap: 0 },
    { shape: [1, 1, 5, 12], tile: 8, overlap: 2 },
  ];
  for (const dtype of dtypes) {
    for (const { shape, tile, overlap, trim } of cases) {
      const c = shape[1];
      const gamma = rt.keep(rt.upload(new Float32Array(c).fill(1), [c], dtype));
      const beta = rt.keep(rt.zeros([c], dtype));
      const standIn = (z: Tensor) => rt.tidy(() => groupNorm(rt, upsampleNearest2x(rt, z), gamma, beta, { groups: 1, eps: 1e-6 }));
      let values = seededValues(shape.reduce((p, d) => p * d, 1), 11, -2, 2);
      if (dtype === 'f16') values = roundToF16(values);
      const latents = rt.keep(rt.upload(values, shape, dtype));
      const image = decodeInTiles({ rt, latents, tileSize: tile, overlap, scale: 2, outChannels: c, decodeTile: standIn, trimPool: trim ?? false });
      const want = await diffusersTiledDecode({ shape, data: values }, tile, overlap, 2, async (z) => {
        const out = rt.tidy(() => standIn(rt.upload(z.data, z.shape, dtype)));
        const host = await toHost(rt, out);
        out.dispose();
        return host;
      });
      t.same(image.shape, want.shape, `${dtype} ${shape.join('x')}: image ${want.shape.join('x')}`);
      const err = maxRelError(await rt.read(image), want.data);
      t.ok(err <= KERNEL_TOLERANCE[dtype as DType], `${dtype} ${shape.join('x')} tile ${tile} overlap ${overlap}: max rel error ${err.toExponential(2)}`);
      for (const x of [image, latents, gamma, beta]) x.dispose();
    }
  }
  await rt.sync();
});

t.test('tiny VAE: decodeTiled equals diffusers tiled_decode, and a plain decode where one tile covers', { timeout: 600_000 }, async (t) => {
  const rt = await testRuntime();
  const vae = await loadTinyVae(rt, 'f32', 'decoder');

  // random latents, 3 × 4 tiles of 4 latents (32 px) with 1 latent of overlap
  const shape: [number, number, number, number] = [1, 4, 8, 10];
  const values = seededValues(8 * 10 * 4, 21, -2, 2);
  const latents = rt.keep(rt.upload(values, shape, 'f32'));
  let started = performance.now();
  const tiled = vae.decodeTiled(latents, { tileSize: 4, overlap: 1 });
  const got = await rt.read(tiled);
  t.comment(`12 tiles: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const want = await diffusersTiledDecode({ shape, data: values }, 4, 1, 8, async (z) => {
    const out = rt.tidy(() => vae.decode(rt.upload(z.data, z.shape, 'f32')));
    const host = await toHost(rt, out);
    out.dispose();
    return host;
  });
  t.same(tiled.shape, [1, 3, 64, 80]);
  const err = maxRelError(got, want.data);
  t.ok(err <= 1e-5, `decodeTiled vs tiled_decode over vae.decode of each tile: max rel error ${err.toExponential(2)}`);
  tiled.dispose();
  latents.dispose();

  // smooth latents: a covering tile is the plain decode; overlapping tiles stay close to it
  const smooth = new Float32Array(4 * 8 * 8);
  for (let c = 0; c < 4; c++) {
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) smooth[(c * 8 + y) * 8 + x] = Math.sin(0.35 * x + c) * Math.cos(0.3 * y - c) * 1.5;
  }
  const z = rt.keep(rt.upload(smooth, [1, 4, 8, 8], 'f32'));
  const plain = await rt.read(rt.tidy(() => vae.decode(z)));
  const covered = await rt.read(rt.tidy(() => vae.decodeTiled(z)));
  t.same([...covered], [...plain], 'default tiles (16 latents) cover 8×8 latents: identical to decode()');
  started = performance.now();
  const blended = await rt.read(rt.tidy(() => vae.decodeTiled(z, { tileSize: 6, overlap: 2 })));
  t.comment(`4 tiles: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // Each tile normalises with its own statistics (the tiny model's 32 groups of 32 channels are
  // per-channel norms) and sees zero padding at its edges, so tiles of 6 latents differ from one
  // pass everywhere, not just at seams; SD's 64-latent tiles differ far less. This bounds that
  // drift (misplaced or unblended tiles give mean differences of several tenths).
  const maxAbs = plain.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const meanDiff = blended.reduce((s, v, i) => s + Math.abs(v - plain[i]!), 0) / blended.length / maxAbs;
  const drift = maxRelError(blended, plain);
  t.ok(meanDiff <= 0.15, `2 × 2 tiles of 6 latents, overlap 2, vs one pass: mean rel difference ${meanDiff.toExponential(2)} (max ${drift.toExponential(2)})`);
  z.dispose();
  vae.dispose();
  await rt.sync();
});

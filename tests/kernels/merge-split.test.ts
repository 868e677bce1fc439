import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { randomGridDestinations } from '../../kernels/merge-random-grid.js';
import { complementTokens } from '../../kernels/merge-complement.js';
import { shuffled } from './merge-reference.js';

t.test('random grid destinations: one token inside each cell, seeded', async (t) => {
  const rt = await testRuntime();
  for (const [w, h, sx, sy] of [[13, 9, 2, 2], [16, 12, 3, 4], [1, 1, 2, 2]] as const) {
    const draw = async (seed: number) => {
      const d = randomGridDestinations(rt, w, h, sx, sy, seed);
      const v = d.size ? [...(await rt.readU32(d))] : [];
      d.dispose();
      return v;
    };
    const a = await draw(1);
    const cellsX = Math.floor(w / sx);
    t.equal(a.length, cellsX * Math.floor(h / sy), `${w}×${h}/${sx}×${sy}: one per cell`);
    const inside = a.every((tok, cell) => {
      const [y, x] = [Math.floor(tok / w), tok % w];
      return Math.floor(y / sy) === Math.floor(cell / cellsX) && Math.floor(x / sx) === cell % cellsX && y < Math.floor(h / sy) * sy && x < cellsX * sx;
    });
    t.ok(inside, `${w}×${h}/${sx}×${sy}: each in its cell`);
    t.same(await draw(1), a, 'same seed, same draw');
    if (a.length > 8) t.not((await draw(2)).join(), a.join(), 'another seed, another draw');
    if (a.length > 8) t.ok(new Set(a.map((tok) => (Math.floor(tok / w) % sy) * sx + (tok % w) % sx)).size > 1, 'not always the same corner');
  }
});

t.test('sources as the complement of the destinations', async (t) => {
  const rt = await testRuntime();
  for (const [rows, tokens, nDst] of [[1, 2500, 700], [3, 117, 24], [2, 9, 0], [1, 4, 4]] as const) {
    const dst = Array.from({ length: rows }, (_, r) => shuffled(tokens, r + 1).slice(0, nDst));
    const shared = rows === 1 && tokens > 1000;
    const src = rt.tidy(() => complementTokens(rt, rt.upload(Uint32Array.from(dst.flat()), shared ? [nDst] : [rows, nDst], 'u32'), tokens));
    t.same(src.shape, shared ? [tokens - nDst] : [rows, tokens - nDst], 'shape');
    const want = dst.flatMap((d) => Array.from({ length: tokens }, (_, i) => i).filter((i) => !d.includes(i)));
    t.same(src.size ? [...(await rt.readU32(src))] : [], want, `${rows} × ${tokens} minus ${nDst}`);
    src.dispose();
  }
});

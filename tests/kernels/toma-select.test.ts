import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { tomaGrid, type TomaGrid } from '../../kernels/toma-layout.js';
import { tomaSelect } from '../../kernels/toma-select.js';
import { referenceSelect, referenceSimilarity, referenceTiles } from '../../merge/toma-reference.js';

/** Random tokens, or tokens drawn from a few distinct vectors so that gains tie exactly. */
function tokens(batch: number, n: number, channels: number, seed: number, distinct?: number): Float32Array {
  if (!distinct) return seededValues(batch * n * channels, seed);
  const pool = seededValues(distinct * channels, seed);
  const pick = seededValues(batch * n, seed + 1, 0, distinct);
  const x = new Float32Array(batch * n * channels);
  for (let i = 0; i < batch * n; i++) x.set(pool.subarray(Math.floor(pick[i]!) * channels, (Math.floor(pick[i]!) + 1) * channels), i * channels);
  return x;
}

function similarities(x: Float32Array, batch: number, channels: number, grid: TomaGrid): Float32Array {
  return referenceSimilarity(referenceTiles(x, batch, channels, grid), batch * grid.tiles, grid.maxTileTokens, channels);
}

t.test('tomaSelect equals a TS greedy facility location exactly (ties to the lowest index)', async (t) => {
  const rt = await testRuntime();
  // [width, height, tiles, destinations, batch, channels, distinct vectors]
  const cases: [number, number, number, number, number, number, number?][] = [
    [13, 9, 12, 59, 2, 24],
    [8, 8, 4, 48, 1, 16],
    [7, 5, 4, 4, 3, 8],
    [12, 10, 1, 40, 1, 12], // one 120-token tile: more candidates than threads
    [9, 7, 6, 30, 2, 8, 3], // many duplicates: exact ties
    [6, 6, 4, 36, 1, 4, 2], // every token a destination, duplicates included
  ];
  for (const [w, h, tiles, dsts, batch, channels, distinct] of cases) {
    const grid = tomaGrid(w, h, tiles, dsts);
    const sim = similarities(tokens(batch, w * h, channels, w * 7 + h, distinct), batch, channels, grid);
    const want = referenceSelect(sim, batch, grid);
    const out = rt.tidy(() => tomaSelect(rt, rt.upload(sim, [batch * grid.tiles, grid.maxTileTokens, grid.maxTileTokens], 'f32'), grid));
    t.same(out.shape, [batch, dsts]);
    const got = await rt.readU32(out);
    out.dispose();
    const label = `${w}x${h} in ${grid.tilesX}x${grid.tilesY} tiles, ${dsts} destinations, B${batch}${distinct ? `, ${distinct} distinct tokens` : ''}`;
    t.same(Array.from(got), Array.from(want), label);
    const perRow = Array.from({ length: batch }, (_, b) => new Set(got.subarray(b * dsts, (b + 1) * dsts)).size);
    t.ok(perRow.every((n) => n === dsts), `${label}: destinations distinct`);
  }
});

t.test('the first pick is the row-sum maximiser, then the largest coverage gain', async (t) => {
  const rt = await testRuntime();
  // one 4x1 tile with hand-made similarities: row sums 2.2, 2.5, 2.6, 1.5 → token 2 first
  const sim = Float32Array.from([
    [1, 0.6, 0.5, 0.1],
    [0.6, 1, 0.8, 0.1],
    [0.5, 0.8, 1, 0.3],
    [0.1, 0.1, 0.3, 1],
  ].flat());
  // after picking 2: best = [0.5, 0.8, 1, 0.3]; gains: 0 → 0.5 + 0 + 0 + 0 = 0.5, 1 → 0.1 + 0.2 = 0.3,
  // 3 → 0 + 0 + 0 + 0.7 = 0.7 → 3; then best = [0.5, 0.8, 1, 1]: 0 → 0.5, 1 → 0.3 → 0.
  const grid = tomaGrid(4, 1, 1, 3);
  const out = rt.tidy(() => tomaSelect(rt, rt.upload(sim, [1, 4, 4], 'f32'), grid));
  t.same(Array.from(await rt.readU32(out)), [2, 3, 0]);
  t.same(Array.from(referenceSelect(sim, 1, grid)), [2, 3, 0], 'the TS reference agrees');
  out.dispose();
});

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { tomaGrid } from '../../kernels/toma-layout.js';
import { tomaMerge } from '../../kernels/toma-merge.js';
import { tomaUnmerge } from '../../kernels/toma-unmerge.js';
import { referenceMerge, referenceSelect, referenceSimilarity, referenceTiles, referenceUnmerge } from '../../merge/toma-reference.js';

// Random weights (padding entries included, which the kernels must ignore), so that any mix-up of
// tiles, tokens or destinations shows.
t.test('tomaMerge / tomaUnmerge (with and without residual) match the per-tile products', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // [width, height, tiles, destinations, batch, channels]
  const cases: [number, number, number, number, number, number][] = [
    [13, 9, 12, 59, 2, 37],
    [8, 8, 4, 20, 1, 64],
    [7, 5, 4, 10, 3, 5],
  ];
  for (const dtype of dtypes) {
    const round = (v: Float32Array) => (dtype === 'f16' ? roundToF16(v) : v);
    for (const [w, h, tiles, dsts, batch, channels] of cases) {
      const grid = tomaGrid(w, h, tiles, dsts);
      const n = w * h;
      const x = round(seededValues(batch * n * channels, 1 + w));
      const sim = referenceSimilarity(referenceTiles(x, batch, channels, grid), batch * grid.tiles, grid.maxTileTokens, channels);
      const dst = referenceSelect(sim, batch, grid);
      const mergeW = round(seededValues(batch * dsts * grid.maxTileTokens, 2 + w, 0, 1));
      const unmergeW = round(seededValues(batch * n * grid.maxTileDestinations, 3 + w, 0, 1));
      const y = round(seededValues(batch * dsts * channels, 4 + w));
      const residual = round(seededValues(batch * n * channels, 5 + w));
      const label = `${dtype} ${w}x${h} in ${grid.tilesX}x${grid.tilesY} tiles, ${dsts} dst, B${batch} C${channels}`;

      const outs = rt.tidy(() => {
        const yT = rt.upload(y, [batch, dsts, channels], dtype);
        const u = rt.upload(unmergeW, [batch, n, grid.maxTileDestinations], dtype);
        return [
          tomaMerge(rt, rt.upload(x, [batch, n, channels], dtype), rt.upload(dst, [batch, dsts], 'u32'), rt.upload(mergeW, [batch, dsts, grid.maxTileTokens], dtype), grid),
          tomaUnmerge(rt, yT, u, grid),
          tomaUnmerge(rt, yT, u, grid, rt.upload(residual, [batch, n, channels], dtype)),
        ];
      });
      t.same(outs.map((o) => o.shape), [[batch, dsts, channels], [batch, n, channels], [batch, n, channels]]);
      const [merged, unmerged, added] = await Promise.all(outs.map((o) => rt.read(o)));
      outs.forEach((o) => o.dispose());
      const errs = [
        maxRelError(merged!, referenceMerge(x, dst, mergeW, batch, channels, grid)),
        maxRelError(unmerged!, referenceUnmerge(y, unmergeW, batch, channels, grid)),
        maxRelError(added!, referenceUnmerge(y, unmergeW, batch, channels, grid, residual)),
      ];
      t.ok(Math.max(...errs) <= KERNEL_TOLERANCE[dtype], `${label}: merge ${errs.map((e) => e.toExponential(2)).join(', ')}`);
    }
  }
});

t.test('shape errors name the kernel and the shapes', async (t) => {
  const rt = await testRuntime();
  const grid = tomaGrid(4, 4, 4, 8);
  rt.tidy(() => {
    const x = rt.zeros([1, 15, 8], 'f32');
    t.throws(() => tomaMerge(rt, x, rt.zeros([1, 8], 'u32'), rt.zeros([1, 8, 4], 'f32'), grid), /tomaMerge: x \[1, 15, 8\] must be \[B, 16, C\]/);
    t.throws(() => tomaUnmerge(rt, rt.zeros([1, 8, 8], 'f32'), rt.zeros([1, 16, 3], 'f32'), grid), /tomaUnmerge: weights \[1, 16, 3\]/);
  });
});

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { tomaGrid } from '../../kernels/toma-layout.js';
import { tomaAssign } from '../../kernels/toma-assign.js';
import { referenceSelect, referenceSimilarity, referenceTiles, referenceWeights } from '../../merge/toma-reference.js';

t.test('tomaAssign: softmax over destinations, merge rows normalised, matches a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // [width, height, tiles, destinations, batch, channels]
  const cases: [number, number, number, number, number, number][] = [
    [13, 9, 12, 59, 2, 6],
    [8, 8, 4, 20, 1, 4],
    [12, 10, 1, 70, 1, 3], // one 120-token tile
  ];
  for (const dtype of dtypes) {
    for (const scale of [10, 1000]) {
      for (const [w, h, tiles, dsts, batch, channels] of cases) {
        const grid = tomaGrid(w, h, tiles, dsts);
        // few channels: similarities spread widely, so the softmax is soft at scale 10
        const x = seededValues(batch * w * h * channels, w + h + channels);
        const sim = referenceSimilarity(referenceTiles(x, batch, channels, grid), batch * grid.tiles, grid.maxTileTokens, channels);
        const dst = referenceSelect(sim, batch, grid);
        const want = referenceWeights(sim, dst, batch, grid, scale);
        const out = rt.tidy(() =>
          tomaAssign(
            rt,
            rt.upload(sim, [batch * grid.tiles, grid.maxTileTokens, grid.maxTileTokens], 'f32'),
            rt.upload(dst, [batch, dsts], 'u32'),
            grid,
            scale,
            dtype,
          ),
        );
        t.same([out.merge.shape, out.unmerge.shape], [[batch, dsts, grid.maxTileTokens], [batch, w * h, grid.maxTileDestinations]]);
        const merge = await rt.read(out.merge);
        const unmerge = await rt.read(out.unmerge);
        out.merge.dispose();
        out.unmerge.dispose();
        const errs = [maxRelError(merge, want.merge), maxRelError(unmerge, want.unmerge)];
        const label = `${dtype} scale ${scale} ${w}x${h} in ${grid.tilesX}x${grid.tilesY} tiles, ${dsts} dst, B${batch}`;
        t.ok(Math.max(...errs) <= KERNEL_TOLERANCE[dtype], `${label}: merge ${errs[0]!.toExponential(2)}, unmerge ${errs[1]!.toExponential(2)}`);
      }
    }
  }
});

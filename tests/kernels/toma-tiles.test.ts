import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { tomaGrid } from '../../kernels/toma-layout.js';
import { tomaTiles } from '../../kernels/toma-tiles.js';
import { referenceTiles } from '../../merge/toma-reference.js';

t.test('tomaTiles groups tokens by tile and L2-normalises them (f32 out)', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // [width, height, tiles, destinations, batch, channels]
  const cases: [number, number, number, number, number, number][] = [
    [13, 9, 12, 59, 2, 37],
    [8, 8, 4, 32, 1, 70],
    [7, 5, 4, 10, 3, 5],
  ];
  for (const dtype of dtypes) {
    for (const [w, h, tiles, dsts, batch, channels] of cases) {
      const grid = tomaGrid(w, h, tiles, dsts);
      let x = seededValues(batch * w * h * channels, w * 31 + channels, -2, 2);
      if (dtype === 'f16') x = roundToF16(x);
      x.fill(0, 0, channels); // a zero token stays zero (no NaN)
      const want = referenceTiles(x, batch, channels, grid);
      const out = rt.tidy(() => tomaTiles(rt, rt.upload(x, [batch, w * h, channels], dtype), grid));
      t.same(out.shape, [batch * grid.tiles, grid.maxTileTokens, channels]);
      const got = await rt.read(out);
      out.dispose();
      const err = maxRelError(got, want);
      t.ok(err <= KERNEL_TOLERANCE.f32, `${dtype} ${w}x${h} in ${grid.tilesX}x${grid.tilesY} tiles, B${batch} C${channels}: ${err.toExponential(2)}`);
    }
  }
});

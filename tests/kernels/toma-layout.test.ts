import t from 'tap';
import { gridTile, tileToken, tokenTile, tomaGrid } from '../../kernels/toma-layout.js';

// [width, height, requested tiles, destinations]
const cases: [number, number, number, number][] = [
  [64, 64, 256, 2048],
  [64, 64, 64, 1024],
  [16, 16, 256, 128],
  [13, 9, 12, 59],
  [13, 9, 12, 111],
  [7, 5, 4, 3],
  [96, 64, 256, 3072],
  [5, 11, 9, 20],
  [3, 3, 1, 9],
];

t.test('tiles partition the grid; every tile keeps 1..n destinations; offsets are consecutive', async (t) => {
  for (const [w, h, tiles, dsts] of cases) {
    const g = tomaGrid(w, h, tiles, dsts);
    const label = `${w}x${h} tiles ${tiles} dst ${dsts} → ${g.tilesX}x${g.tilesY}`;
    const seen = new Uint8Array(w * h);
    let offset = 0;
    let ok = g.tiles <= dsts;
    for (let i = 0; i < g.tiles; i++) {
      const tile = gridTile(g, i);
      ok &&= tile.dstOffset === offset && tile.dstCount >= 1 && tile.dstCount <= tile.tokens;
      ok &&= tile.tokens <= g.maxTileTokens && tile.dstCount <= g.maxTileDestinations;
      offset += tile.dstCount;
      for (let j = 0; j < tile.tokens; j++) {
        const token = tileToken(g, tile, j);
        seen[token]!++;
        const back = tokenTile(g, token);
        ok &&= back.tile === i && back.local === j;
      }
    }
    t.ok(ok && offset === dsts && seen.every((v) => v === 1), label);
  }
  const square = tomaGrid(64, 64, 256, 2048);
  t.same([square.tilesX, square.tilesY, square.maxTileTokens, square.maxTileDestinations], [16, 16, 16, 8], 'SD 512² at 256 tiles: 4x4-token tiles, 8 destinations each');
  t.throws(() => tomaGrid(64, 64, 1, 2048), /at most 1024/, 'oversized tiles are refused');
});

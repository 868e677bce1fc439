import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { BufferPool } from '../../runtime/pool.js';
import { tileSpans } from '../../vae/tiled-decode.js';
import { loadTinyVae } from './fixture.js';

const MB = 2 ** 20;

// The pool's bookkeeping depends only on which tensors are made and freed, never on their
// values, so this test records the kernels as no-ops: the allocation trace of a 2048² decode is
// exact, while running its 36 tiles of 512² would take lavapipe hours.
t.test('a 2048² tiled decode needs one tile of activations plus the image', { timeout: 600_000 }, async (t) => {
  const rt = await testRuntime();
  const vae = await loadTinyVae(rt, 'f32', 'decoder');
  const [tileSize, overlap] = [64, 16];
  const latents = rt.zeros([1, 4, 256, 256]);
  const tileLatents = rt.zeros([1, 4, tileSize, tileSize]);
  await rt.sync();
  rt.pool.trim();
  const dispatch = rt.dispatch;
  rt.dispatch = () => {};
  try {
    const weights = rt.pool.stats().liveBytes;
    const one = vae.decode(tileLatents);
    one.dispose();
    const tilePeak = rt.pool.stats().peakBytes;
    let tiles = 0;
    const image = vae.decodeTiled(latents, { tileSize, overlap, onTile: (done) => (tiles = done) });
    const tiledPeak = rt.pool.stats().peakBytes;
    t.equal(tiles, 36, '6 × 6 tiles');
    t.same(image.shape, [1, 3, 2048, 2048]);
    const imageBytes = BufferPool.sizeClass(image.byteLength);
    // edges kept between tiles: the bottom rows of one row of tiles (twice: the row being made
    // and the one above) and the right columns of a tile (twice), each at most blend × tile px
    const cols = tileSpans(256, tileSize, tileSize - overlap).length;
    const stripBytes = (2 * cols + 2) * BufferPool.sizeClass(3 * overlap * 8 * tileSize * 8 * 4);
    t.comment(
      `weights + latents ${(weights / MB).toFixed(1)} MB; one 512² tile: peak ${(tilePeak / MB).toFixed(1)} MB; ` +
        `2048² tiled: peak ${(tiledPeak / MB).toFixed(1)} MB (image ${(imageBytes / MB).toFixed(1)} MB, edge strips ≤ ${(stripBytes / MB).toFixed(1)} MB)`,
    );
    t.ok(tiledPeak <= tilePeak + imageBytes + stripBytes, 'peak ≤ one tile + image + edge strips');
    image.dispose();
  } finally {
    rt.dispatch = dispatch;
  }
  latents.dispose();
  tileLatents.dispose();
  vae.dispose();
  await rt.sync();
});

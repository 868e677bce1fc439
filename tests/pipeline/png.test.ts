import t from 'tap';
import pngjs from 'pngjs';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, readPngText, writeFileAtomic } from '../../pipeline/png.js';

t.test('PNG round trip keeps pixels and text chunks', async (t) => {
  const [w, h] = [5, 3];
  const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
  const png = encodePng(w, h, rgb, { parameters: 'a cat\nSteps: 20, Seed: 42', Software: 'webgpu-diffusion' });
  const decoded = pngjs.PNG.sync.read(png);
  t.equal(decoded.width, w);
  t.equal(decoded.height, h);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) t.equal(decoded.data[i * 4 + c], rgb[i * 3 + c]);
  }
  t.same(readPngText(png), { parameters: 'a cat\nSteps: 20, Seed: 42', Software: 'webgpu-diffusion' });
  const dir = mkdtempSync(join(tmpdir(), 'png-'));
  await writeFileAtomic(join(dir, 'x.png'), png);
  t.same(readdirSync(dir), ['x.png'], 'no temporary left behind');
  t.ok(readFileSync(join(dir, 'x.png')).equals(png));
  await t.rejects(writeFileAtomic(join(dir, 'missing', 'y.png'), png));
  t.same(readdirSync(dir), ['x.png'], 'nothing half-written after a failure');
});

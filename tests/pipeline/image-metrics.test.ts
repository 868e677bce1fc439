// PSNR and SSIM on inputs small enough to check by hand, and against scikit-image.

import t from 'tap';
import { psnr, ssim } from '../../pipeline/image-metrics.js';

const C1 = (0.01 * 255) ** 2;

/** A w × h × channels image whose every byte is v. */
const flat = (w: number, h: number, v: number, channels = 3) => new Uint8Array(w * h * channels).fill(v);

/** The formula images the scikit-image reference below was computed on. */
function formulaImages(w: number, h: number): [Uint8Array, Uint8Array] {
  const a = new Uint8Array(w * h * 3);
  const b = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const v = x * 37 + y * 91 + c * 53;
        a[(y * w + x) * 3 + c] = v % 256;
        b[(y * w + x) * 3 + c] = (v + ((x * y + c) % 23)) % 256;
      }
    }
  }
  return [a, b];
}

t.test('psnr', async (t) => {
  t.equal(psnr(flat(2, 2, 7), flat(2, 2, 7)), Infinity, 'identical images: Infinity');
  t.equal(psnr(flat(2, 2, 0), flat(2, 2, 255)), 0, 'black against white: MSE = 255², 0 dB');
  // two RGB pixels, one byte off by 3: MSE = 9 / 6
  const a = new Uint8Array([10, 20, 30, 40, 50, 60]);
  const b = new Uint8Array([10, 20, 33, 40, 50, 60]);
  t.ok(Math.abs(psnr(a, b) - 10 * Math.log10((255 * 255) / 1.5)) < 1e-12, `one byte off by 3 in 6: ${psnr(a, b).toFixed(4)} dB`);
  t.equal(psnr(a, b), psnr(b, a), 'symmetric');
  t.throws(() => psnr(a, new Uint8Array(3)), /psnr: images of 6 and 3 bytes/);
});

t.test('ssim', async (t) => {
  t.equal(ssim(flat(11, 11, 90), flat(11, 11, 90), 11, 11), 1, 'identical flat images: 1');
  const [a, b] = formulaImages(12, 13);
  t.equal(ssim(a, a, 12, 13), 1, 'identical textured images: 1');
  // flat images: no variance, so only the luminance term (2 μx μy + C1) / (μx² + μy² + C1) is left
  const want = (2 * 100 * 110 + C1) / (100 * 100 + 110 * 110 + C1);
  t.ok(Math.abs(ssim(flat(11, 11, 100, 1), flat(11, 11, 110, 1), 11, 11, { channels: 1 }) - want) < 1e-12, `flat 100 against flat 110: ${want.toFixed(6)}`);
  const dark = (2 * 0 * 255 + C1) / (0 + 255 * 255 + C1);
  t.ok(Math.abs(ssim(flat(16, 12, 0), flat(16, 12, 255), 16, 12) - dark) < 1e-12, `black against white: ${dark.toExponential(3)}`);
  // skimage.metrics.structural_similarity(a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
  // use_sample_covariance=False, data_range=255) on the formula images (scikit-image 0.26)
  const got = ssim(a, b, 12, 13);
  t.ok(Math.abs(got - 0.6755197915550667) < 1e-9, `scikit-image's value: ${got}`);
  t.equal(got, ssim(b, a, 12, 13), 'symmetric');
  t.ok(Math.abs(psnr(a, b) - 13.187782669281479) < 1e-9, "and scikit-image's PSNR of the same pair");
  t.throws(() => ssim(flat(10, 10, 0), flat(10, 10, 0), 10, 10), /smaller than the 11x11 window/);
  t.throws(() => ssim(flat(11, 11, 0), flat(11, 12, 0), 11, 11), /ssim: images of/);
});

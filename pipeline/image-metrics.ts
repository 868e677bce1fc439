// Full-reference image quality between two 8-bit images of one size (e.g. with and without token
// merging, same seed): PSNR and SSIM.

const PEAK = 255;

/** PSNR in dB over every byte (all channels): 10 log10(255² / MSE); Infinity for identical images. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`psnr: images of ${a.length} and ${b.length} bytes`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum === 0 ? Infinity : 10 * Math.log10((PEAK * PEAK * a.length) / sum);
}

export interface SsimOptions {
  /** Interleaved channels per pixel (default 3, RGB). */
  readonly channels?: number;
}

/** Wang et al. 2004's constants: an 11 × 11 Gaussian window of σ 1.5, K1 = 0.01, K2 = 0.03, L = 255. */
export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
const C1 = (0.01 * PEAK) ** 2;
const C2 = (0.03 * PEAK) ** 2;

/**
 * Mean SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) of two interleaved 8-bit images, computed per
 * channel and averaged over the channels (as scikit-image's structural_similarity with
 * channel_axis, gaussian_weights=True, use_sample_covariance=False, data_range=255): Gaussian-weighted
 * local means, variances and covariance over every window that lies wholly inside the image.
 * 1 for identical images. Needs at least 11 × 11 pixels.
 */
export function ssim(a: Uint8Array, b: Uint8Array, width: number, height: number, options: SsimOptions = {}): number {
  const channels = options.channels ?? 3;
  if (a.length !== width * height * channels || b.length !== a.length) {
    throw new Error(`ssim: images of ${a.length} and ${b.length} bytes for ${width}x${height}x${channels}`);
  }
  if (width < SSIM_WINDOW || height < SSIM_WINDOW) throw new Error(`ssim: a ${width}x${height} image is smaller than the ${SSIM_WINDOW}x${SSIM_WINDOW} window`);
  const w = gaussianWindow(SSIM_WINDOW, SSIM_SIGMA);
  let sum = 0;
  let count = 0;
  for (let c = 0; c < channels; c++) {
    const x = new Float64Array(width * height);
    const y = new Float64Array(width * height);
    for (let i = 0; i < x.length; i++) {
      x[i] = a[i * channels + c]!;
      y[i] = b[i * channels + c]!;
    }
    const product = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]!);
    const [mx, my, xx, yy, xy] = [x, y, product(x, x), product(y, y), product(x, y)].map((f) => filterValid(f, width, height, w));
    for (let i = 0; i < mx!.length; i++) {
      const ux = mx![i]!;
      const uy = my![i]!;
      const vx = xx![i]! - ux * ux;
      const vy = yy![i]! - uy * uy;
      const cxy = xy![i]! - ux * uy;
      sum += ((2 * ux * uy + C1) * (2 * cxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
      count++;
    }
  }
  return sum / count;
}

/** The normalised 1-D Gaussian (the 2-D window is its outer product). */
function gaussianWindow(size: number, sigma: number): Float64Array {
  const half = (size - 1) / 2;
  const w = Float64Array.from({ length: size }, (_, i) => Math.exp(-((i - half) ** 2) / (2 * sigma * sigma)));
  const total = w.reduce((s, v) => s + v, 0);
  return w.map((v) => v / total);
}

/** Separable weighted sum over every full window: [height − k + 1, width − k + 1]. */
function filterValid(f: Float64Array, width: number, height: number, w: Float64Array): Float64Array {
  const k = w.length;
  const ow = width - k + 1;
  const oh = height - k + 1;
  const rows = new Float64Array(height * ow);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += w[j]! * f[y * width + x + j]!;
      rows[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += w[j]! * rows[(y + j) * ow + x]!;
      out[y * ow + x] = s;
    }
  }
  return out;
}

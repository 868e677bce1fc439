// Latents to 8-bit RGB as diffusers' StableDiffusionPipeline does it: decode(latents / scaling),
// then round(clamp(image / 2 + 0.5, 0, 1) · 255). The decode runs on the GPU; the one readback of a
// generation happens here, after the denoising loop.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { axpby } from '../kernels/scale.js';
import type { AutoencoderKL } from '../vae/vae.js';

/** One 8-bit RGB image, rows top to bottom, 3 bytes a pixel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
}

export interface DecodeOptions {
  /** Decode in overlapping tiles (less memory for large images; see AutoencoderKL.decodeTiled). */
  readonly tiled?: boolean;
}

/**
 * Records the VAE decode of latents [n, C, h, w] (f32 or f16) and returns the image tensor
 * [n, 3, H, W] in [-1, 1] (not clamped; the caller owns it).
 */
export function decodeLatents(rt: Runtime, vae: AutoencoderKL, latents: Tensor, options: DecodeOptions = {}): Tensor {
  const { scalingFactor, shiftFactor } = vae.config;
  if (shiftFactor !== null && shiftFactor !== 0) {
    throw new Error(`the VAE's shift_factor ${shiftFactor} is not supported (SD 1.x VAEs have none)`);
  }
  return rt.tidy(() => {
    const scaled = axpby(rt, 1 / scalingFactor, latents);
    return options.tiled ? vae.decodeTiled(scaled) : vae.decode(scaled);
  });
}

/** Decodes latents and reads the images back as 8-bit RGB (this waits for the GPU). */
export async function latentsToImages(rt: Runtime, vae: AutoencoderKL, latents: Tensor, options: DecodeOptions = {}): Promise<RgbImage[]> {
  const image = decodeLatents(rt, vae, latents, options);
  try {
    const [n, channels, height, width] = image.shape as [number, number, number, number];
    const values = await rt.read(image);
    return Array.from({ length: n }, (_, i) => ({ width, height, rgb: toRgb8(values, i, channels, height, width) }));
  } finally {
    image.dispose();
  }
}

/**
 * Image i of planar [n, C, H, W] values in [-1, 1] as interleaved 8-bit RGB. Each value goes
 * through float32 arithmetic as torch does it, and rounds half to even as numpy's round() does.
 * A single-channel image is repeated into all three channels; channels past 3 are ignored.
 */
export function toRgb8(values: Float32Array, i: number, channels: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const base = i * channels * plane;
  const out = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const src = base + Math.min(c, channels - 1) * plane;
    for (let p = 0; p < plane; p++) out[p * 3 + c] = toByte(values[src + p]!);
  }
  return out;
}

/** round(clamp(x / 2 + 0.5, 0, 1) · 255) in float32, ties to even; NaN becomes 0. */
export function toByte(x: number): number {
  const f = Math.fround;
  let v = f(f(x / 2) + 0.5);
  if (!(v > 0)) v = 0;
  else if (v > 1) v = 1;
  const scaled = f(v * 255);
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

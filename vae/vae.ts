// AutoencoderKL (Stable Diffusion's VAE) on the project's kernels: decode latents to images (in
// one pass or in tiles) and encode images to the latent distribution's mean and log-variance.
// Methods only record dispatches (no readback).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape, type FloatDType } from '../runtime/dtype.js';
import { loadParameters, type WeightSource } from '../runtime/weights.js';
import { conv2d } from '../kernels/conv2d.js';
import { cast } from '../kernels/layout.js';
import { clamp } from '../kernels/clamp.js';
import type { VaeConfig } from './config.js';
import { vaeArchitecture, type ConvSpec, type VaeArchitecture } from './architecture.js';
import { architectureParameterShapes, type VaeParts } from './parameters.js';
import { VaeWeights } from './weights.js';
import { Decoder, type VaeCapture } from './decoder.js';
import { Encoder } from './encoder.js';
import { MomentsHead } from './moments.js';
import { decodeInTiles, type VaeTiling } from './tiled-decode.js';

export type { VaeCapture } from './decoder.js';
export type { VaeTiling } from './tiled-decode.js';
export type { VaeParts } from './parameters.js';

export interface VaeOptions {
  /** Default 'f32' (see vaeDType for what the pipeline picks). */
  readonly dtype?: FloatDType;
  /** Default 'all'; 'decoder' for text-to-image only (no encoder weights needed). */
  readonly parts?: VaeParts;
}

export interface VaeCallContext {
  /**
   * Sees intermediate activations by diffusers module name: 'post_quant_conv', 'decoder.conv_in',
   * 'decoder.mid_block', 'decoder.up_blocks.<i>', 'decoder.conv_out'; 'encoder.conv_in',
   * 'encoder.down_blocks.<i>', 'encoder.mid_block', 'encoder.conv_out'. Valid only during the
   * call: copy into an rt.keep()'d tensor to read later.
   */
  readonly capture?: VaeCapture;
}

/** The latent distribution diffusers' DiagonalGaussianDistribution holds (log-variance clamped to [-30, 20]). */
export interface LatentDistribution {
  readonly mean: Tensor;
  readonly logvar: Tensor;
}

/**
 * The VAE's dtype when the rest of the pipeline runs in `pipelineDType` and the user did not pick
 * one: f32 where the config says force_upcast (diffusers' default, and SD 1.5's config), as
 * diffusers' SDXL-family pipelines do, because the decoder's activations can overflow f16. Its SD
 * 1.x pipeline decodes in the pipeline's dtype instead; `vaeDType: 'f16'` does that.
 */
export function vaeDType(config: VaeConfig, pipelineDType: FloatDType): FloatDType {
  return config.forceUpcast ? 'f32' : pipelineDType;
}

const LOGVAR_MIN = -30;
const LOGVAR_MAX = 20;

export class AutoencoderKL {
  readonly architecture: VaeArchitecture;
  private readonly decoder: Decoder | null;
  private readonly encoder: Encoder | null;
  private readonly postQuantConv: readonly [Tensor, Tensor] | null;
  private readonly moments: MomentsHead | null;
  private readonly owned: Tensor[];
  private disposed = false;

  private constructor(
    private readonly rt: Runtime,
    readonly config: VaeConfig,
    weights: ReadonlyMap<string, Tensor>,
    readonly dtype: FloatDType,
    readonly parts: VaeParts,
  ) {
    const a = (this.architecture = vaeArchitecture(config));
    const expected = architectureParameterShapes(a, parts);
    const w = new VaeWeights(weights, dtype);
    w.validate(expected);
    this.owned = [...expected.keys()].map((name) => w.get(name));
    const builder = { rt, weights: w, groups: a.groups, eps: a.eps };
    this.decoder = parts === 'encoder' ? null : new Decoder(builder, a.decoder);
    this.postQuantConv = this.decoder && a.postQuantConv ? w.pair(a.postQuantConv.name) : null;
    this.encoder = parts === 'decoder' ? null : new Encoder(builder, a.encoder);
    // The conv whose output channels are [mean | logvar]: quant_conv, or conv_out without one.
    const split: ConvSpec = a.quantConv ?? a.encoder.convOut;
    this.moments = this.encoder ? MomentsHead.split(rt, w.pair(split.name), split) : null;
  }

  /**
   * weights: diffusers-named parameters in `dtype` (vaeParameterShapes(config, parts) lists them;
   * they are validated). The VAE takes ownership of those it uses and frees them in dispose().
   */
  static create(rt: Runtime, config: VaeConfig, weights: ReadonlyMap<string, Tensor>, options: VaeOptions = {}): AutoencoderKL {
    const dtype = options.dtype ?? 'f32';
    if (dtype === 'f16' && !rt.features.f16) throw new Error('AutoencoderKL: this device has no shader-f16; use f32');
    return new AutoencoderKL(rt, config, weights, dtype, options.parts ?? 'all');
  }

  /** Checks the source against the config (all problems at once), uploads the weights as dtype, builds the VAE. */
  static async load(rt: Runtime, config: VaeConfig, source: WeightSource, options: VaeOptions = {}): Promise<AutoencoderKL> {
    const dtype = options.dtype ?? 'f32';
    const parts = options.parts ?? 'all';
    const expected = architectureParameterShapes(vaeArchitecture(config), parts);
    const weights = await loadParameters(rt, parts === 'all' ? source : onlyNames(source, expected), expected, dtype);
    try {
      return AutoencoderKL.create(rt, config, weights, { dtype, parts });
    } catch (e) {
      for (const t of weights.values()) t.dispose();
      throw e;
    }
  }

  /** Pixels per latent along each side (8 for SD 1.5). */
  get scale(): number {
    return this.architecture.scale;
  }

  /**
   * latents [B, latent, h, w] (already divided by the scaling factor, as diffusers' vae.decode
   * takes them) → image [B, out, h·scale, w·scale] in the model dtype, nominally in [-1, 1] (not
   * clamped). Latents of the other float dtype are cast.
   */
  decode(latents: Tensor, ctx: VaeCallContext = {}): Tensor {
    const decoder = this.requireDecoder();
    this.checkLatents(latents);
    const rt = this.rt;
    return rt.tidy(() => {
      const z = latents.dtype === this.dtype ? latents : cast(rt, latents, this.dtype);
      return this.decodeModelDType(decoder, z, ctx.capture);
    });
  }

  /**
   * decode() in overlapping tiles, as diffusers' decode with enable_tiling(): latents no larger than
   * one tile on both sides decode in one pass (exactly decode()); larger ones tile by tile with the
   * overlaps blended, in memory for one tile plus the image. Group norms and the mid-block
   * attention see one tile, so the result differs a little from a one-pass decode.
   */
  decodeTiled(latents: Tensor, tiling: VaeTiling = {}): Tensor {
    const decoder = this.requireDecoder();
    this.checkLatents(latents);
    const tileSize = tiling.tileSize ?? Math.floor(this.config.sampleSize / this.scale);
    const overlap = tiling.overlap ?? tileSize - Math.floor(tileSize * 0.75);
    const [, , h, w] = latents.shape as [number, number, number, number];
    const rt = this.rt;
    const z = latents.dtype === this.dtype ? latents : cast(rt, latents, this.dtype);
    try {
      if (h <= tileSize && w <= tileSize) return rt.tidy(() => this.decodeModelDType(decoder, z));
      return decodeInTiles({
        rt,
        latents: z,
        tileSize,
        overlap,
        scale: this.scale,
        outChannels: this.config.outChannels,
        decodeTile: (tile) => this.decodeModelDType(decoder, tile),
        trimPool: tiling.trimPool ?? true,
        onTile: tiling.onTile,
      });
    } finally {
      if (z !== latents) z.dispose();
    }
  }

  /**
   * image [B, in, H, W] in [-1, 1] (H and W multiples of scale) → the latent distribution's mean and
   * clamped log-variance, each [B, latent, H/scale, W/scale] in the model dtype (not scaled by the
   * scaling factor: latents = scalingFactor · sample, as the pipeline does). Images of the other
   * float dtype are cast.
   */
  encode(image: Tensor, ctx: VaeCallContext = {}): LatentDistribution {
    if (this.disposed) throw new Error('AutoencoderKL: encode after dispose()');
    if (!this.encoder || !this.moments) throw new Error("AutoencoderKL: built with parts 'decoder', it has no encoder");
    const { encoder, moments } = this;
    const c = this.config.inChannels;
    const [, ch, height, width] = image.shape as [number, number, number, number];
    if (image.rank !== 4 || ch !== c || image.dtype === 'u32') throw new Error(`AutoencoderKL.encode: image ${image}, expected [B, ${c}, H, W] f32/f16`);
    if (height % this.scale !== 0 || width % this.scale !== 0) {
      throw new Error(`AutoencoderKL.encode: image ${formatShape(image.shape)}: H and W must be multiples of ${this.scale}`);
    }
    const rt = this.rt;
    const capture = ctx.capture;
    return rt.tidy(() => {
      const x = image.dtype === this.dtype ? image : cast(rt, image, this.dtype);
      const quant = this.architecture.quantConv !== null;
      const h = encoder.forward(x, capture, !quant);
      const mean = moments.mean(h);
      const raw = moments.logvar(h);
      h.dispose();
      const logvar = clamp(rt, raw, LOGVAR_MIN, LOGVAR_MAX);
      raw.dispose();
      return { mean, logvar };
    });
  }

  /** Frees the parameters the VAE took over and the split head it made. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
    this.moments?.dispose();
  }

  private decodeModelDType(decoder: Decoder, latents: Tensor, capture?: VaeCapture): Tensor {
    const rt = this.rt;
    return rt.tidy(() => {
      let z = latents;
      if (this.postQuantConv) {
        z = conv2d(rt, latents, this.postQuantConv[0], { bias: this.postQuantConv[1] });
        capture?.('post_quant_conv', z);
      }
      const image = decoder.forward(z, capture);
      capture?.('decoder.conv_out', image);
      return image;
    });
  }

  private requireDecoder(): Decoder {
    if (this.disposed) throw new Error('AutoencoderKL: decode after dispose()');
    if (!this.decoder) throw new Error("AutoencoderKL: built with parts 'encoder', it has no decoder");
    return this.decoder;
  }

  private checkLatents(latents: Tensor): void {
    const c = this.config.latentChannels;
    if (latents.rank !== 4 || latents.shape[1] !== c || latents.dtype === 'u32' || latents.size === 0) {
      throw new Error(`AutoencoderKL.decode: latents ${latents}, expected [B, ${c}, h, w] f32/f16`);
    }
  }
}

/** A view of source restricted to `names` (loading only the decoder from a full checkpoint). */
function onlyNames(source: WeightSource, names: ReadonlyMap<string, unknown>): WeightSource {
  return {
    label: source.label,
    names: () => source.names().filter((n) => names.has(n)),
    has: (n) => names.has(n) && source.has(n),
    shape: (n) => source.shape(n),
    stored: (n) => source.stored(n),
    load: (rt, n, dtype) => source.load(rt, n, dtype),
    readFloat32: (n) => source.readFloat32(n),
  };
}

// The embedding API: load a model once, generate images from prompts, dispose.
//
//   const sd = await StableDiffusion.load(path, { dtype: 'auto' });
//   const [image] = await sd.generate({ prompt: 'a lighthouse at dusk', seed: 42 });
//   sd.dispose();
//
// generate() follows diffusers' StableDiffusionPipeline: negative and positive prompt embeddings
// batched [uncond…, cond…], latents from torch's CPU generator (so a seed gives diffusers' image),
// one batched U-Net pass per scheduler evaluation, VAE decode, 8-bit RGB.

import { randomInt } from 'node:crypto';
import { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { FloatDType } from '../runtime/dtype.js';
import type { GpuOptions } from '../runtime/gpu.js';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import type { ClipTextEncoder } from '../clip/text-encoder.js';
import type { UNet } from '../unet/unet.js';
import { AttentionHooks } from '../unet/hooks.js';
import type { AutoencoderKL } from '../vae/vae.js';
import { createScheduler, SCHEDULER_KINDS, type SchedulerConfig, type SchedulerKind } from '../scheduler/index.js';
import { TorchGenerator } from './torch-generator.js';
import { denoise, throwIfAborted, type DenoiseProfile, type StepInspector } from './generate.js';
import { latentsToImages, type RgbImage } from './image.js';
import { loadComponents, type ModelInfo } from './load.js';
import { mergeSession, type MergeOption, type MergeSession } from './merge.js';
import type { ProgressCallback } from './progress.js';

export interface StableDiffusionLoadOptions {
  /** U-Net and text encoder. 'auto' (default): f16 where the device has shader-f16, else f32. */
  readonly dtype?: FloatDType | 'auto';
  /**
   * The VAE decoder. 'auto' (default): f32 where its config says force_upcast (SD 1.5's does: its
   * activations can overflow f16), else as dtype. 'f16' decodes as diffusers' SD 1.x pipeline does
   * in fp16, in less memory but not faster (H100, 1024²: 1.77 s against 1.48 s in f32).
   */
  readonly vaeDType?: FloatDType | 'auto';
  /** Share a device: the model uses this runtime and leaves it alive on dispose(). */
  readonly runtime?: Runtime;
  /** Options for the runtime created when none is given (e.g. { plain: true }). */
  readonly gpu?: GpuOptions;
  /** Sees { stage: 'load', step: bytes uploaded, total }. */
  readonly onProgress?: ProgressCallback;
  /** Single files: a folder with unet/, vae/, text_encoder/ configs (and tokenizer/, scheduler/) to use. */
  readonly configFrom?: string;
  /** A CLIP tokenizer folder; single files need this or configFrom with a tokenizer/. */
  readonly tokenizerDir?: string;
  /** Overrides the U-Net's attention heads (one for all blocks or one per down block). */
  readonly unetAttentionHeads?: number | readonly number[];
  /** Overrides the text encoder's attention heads. */
  readonly textEncoderHeads?: number;
}

export interface GenerateOptions {
  readonly prompt: string;
  /** Default '' (diffusers' unconditional embedding). */
  readonly negativePrompt?: string;
  /** Images in the batch (default 1). */
  readonly n?: number;
  /** Classifier-free guidance scale (default 7.5); ≤ 1 turns guidance off (one U-Net row per image). */
  readonly guidanceScale?: number;
  /** Inference steps (default 50; PLMS evaluates the U-Net steps + 1 times). */
  readonly steps?: number;
  /** Image size in pixels (default: the U-Net's sample size × the VAE's scale, 512 for SD 1.5). */
  readonly width?: number;
  readonly height?: number;
  /**
   * torch.Generator('cpu').manual_seed(seed) for the whole batch, as diffusers; random when absent
   * (the images report the seed used).
   */
  readonly seed?: number;
  /**
   * Initial latents [n, C, height/8, width/8] instead of drawing them from the seed (diffusers'
   * `latents` argument); like diffusers, they are multiplied by the scheduler's initNoiseSigma.
   */
  readonly latents?: Float32Array;
  /** Default 'plms' (SD 1.5's PNDM with skip_prk_steps). */
  readonly scheduler?: SchedulerKind;
  /** Use the text encoder's hidden state this many layers from the end (default 1 = last). */
  readonly clipSkip?: number;
  /** Token merging for this generation (see pipeline/merge.ts). */
  readonly merge?: MergeOption;
  /** Decode in overlapping tiles (less memory for large images; slightly different pixels). */
  readonly tiledDecode?: boolean;
  /** Checked between steps; aborting rejects with an AbortError after freeing everything. */
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
  /** Tests and analysis only: sees the latents before (-1) and after every step; syncs the GPU each step. */
  readonly onStep?: StepInspector;
  /** Benchmarks: sync after every U-Net pass and scheduler step to time them apart (slower). */
  readonly profile?: boolean;
}

export interface GeneratedImage extends RgbImage {
  /** The seed of the batch this image came from. */
  readonly seed: number;
  /** Position in the batch (diffusers' generator draws one tensor for the whole batch). */
  readonly index: number;
}

/** Wall-clock milliseconds per stage; the GPU is synced at stage boundaries only. */
export interface StageTimings {
  /** Tokenizing and the text encoder. */
  readonly textMs: number;
  /** The whole denoising loop (U-Net passes, guidance, scheduler). */
  readonly denoiseMs: number;
  /** VAE decode and the readback of the images. */
  readonly decodeMs: number;
  readonly totalMs: number;
  /** With profile: U-Net passes and scheduler steps timed apart. */
  readonly unetMs?: number;
  readonly schedulerMs?: number;
  /** Host time recording the denoising loop's GPU work (within denoiseMs, overlapping the GPU). */
  readonly recordMs: number;
}

export interface GenerationResult {
  readonly images: GeneratedImage[];
  readonly seed: number;
  /** The settings after defaults were applied (for metadata). */
  readonly settings: ResolvedSettings;
  /** U-Net evaluations run (each on a batch of 2n rows under guidance). */
  readonly evaluations: number;
  readonly timings: StageTimings;
  /** Prompt tokens beyond the text encoder's context that were dropped (prompt, negative prompt). */
  readonly truncatedTokens: { readonly prompt: number; readonly negativePrompt: number };
}

export interface ResolvedSettings {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly n: number;
  readonly guidanceScale: number;
  readonly steps: number;
  readonly width: number;
  readonly height: number;
  readonly seed: number;
  readonly scheduler: SchedulerKind;
  readonly clipSkip: number;
}

const MAX_SEED = Number.MAX_SAFE_INTEGER;

export class StableDiffusion {
  private disposed = false;
  /** generate() calls run one after another (they would compete for the same GPU memory). */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly runtime: Runtime,
    private readonly ownsRuntime: boolean,
    readonly info: ModelInfo,
    private readonly tokenizer: ClipTokenizer,
    private readonly textEncoder: ClipTextEncoder,
    private readonly unet: UNet,
    private readonly vae: AutoencoderKL,
    /** The model's scheduler_config.json, as the schedulers take it. */
    readonly schedulerConfig: Partial<SchedulerConfig>,
  ) {}

  /** Loads a diffusers folder or a single .safetensors checkpoint onto the GPU. */
  static async load(path: string, options: StableDiffusionLoadOptions = {}): Promise<StableDiffusion> {
    const ownsRuntime = !options.runtime;
    const rt = options.runtime ?? (await Runtime.create(options.gpu));
    try {
      const dtype = rt.defaultDType(options.dtype ?? 'auto');
      const c = await loadComponents(rt, path, {
        dtype,
        vaeDType: options.vaeDType === 'auto' ? undefined : options.vaeDType,
        onProgress: options.onProgress,
        configFrom: options.configFrom,
        tokenizerDir: options.tokenizerDir,
        unetAttentionHeads: options.unetAttentionHeads,
        textEncoderHeads: options.textEncoderHeads,
      });
      return new StableDiffusion(rt, ownsRuntime, c.info, c.tokenizer, c.textEncoder, c.unet, c.vae, c.scheduler);
    } catch (e) {
      if (ownsRuntime) rt.destroy();
      throw e;
    }
  }

  get dtype(): FloatDType {
    return this.info.dtype;
  }

  /** Pixels per latent (8 for SD 1.5). */
  get vaeScale(): number {
    return this.vae.scale;
  }

  /** Image sides must be multiples of this: the VAE's scale (8 for SD 1.5); the U-Net takes any latent size. */
  get sizeMultiple(): number {
    return this.vae.scale;
  }

  /** The default image side: the U-Net's sample size in pixels (512 for SD 1.5). */
  get defaultSize(): number {
    return this.info.unet.sampleSize * this.vae.scale;
  }

  /** Generates options.n images; resolves to them in batch order. */
  async generate(options: GenerateOptions): Promise<GeneratedImage[]> {
    return (await this.generateWithStats(options)).images;
  }

  /** generate() plus the seed, settings, stage timings and evaluation count. */
  async generateWithStats(options: GenerateOptions): Promise<GenerationResult> {
    const settings = this.resolve(options);
    const run = this.queue.then(() => this.run(settings, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Frees the weights, and the runtime if load() created it. Not while a generation runs. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.textEncoder.dispose();
    this.unet.dispose();
    this.vae.dispose();
    if (this.ownsRuntime) this.runtime.destroy();
  }

  /** Checks and completes the options (throws on bad values before any GPU work). */
  resolve(o: GenerateOptions): ResolvedSettings {
    if (this.disposed) throw new Error('StableDiffusion: generate after dispose()');
    if (typeof o.prompt !== 'string') throw new Error('StableDiffusion: prompt must be a string');
    const int = (name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
      if (!Number.isInteger(v) || v < min || v > max) throw new Error(`StableDiffusion: ${name} must be an integer from ${min} to ${max}, got ${v}`);
      return v;
    };
    const multiple = this.sizeMultiple;
    const side = (name: string, v: number): number => {
      int(name, v, multiple);
      if (v % multiple !== 0) {
        throw new Error(`StableDiffusion: ${name} ${v} must be a multiple of ${multiple} (the VAE's scale)`);
      }
      return v;
    };
    const scheduler = o.scheduler ?? 'plms';
    if (!SCHEDULER_KINDS.includes(scheduler)) throw new Error(`StableDiffusion: unknown scheduler ${JSON.stringify(scheduler)} (known: ${SCHEDULER_KINDS.join(', ')})`);
    const guidanceScale = o.guidanceScale ?? 7.5;
    if (!Number.isFinite(guidanceScale)) throw new Error(`StableDiffusion: guidanceScale must be a finite number, got ${guidanceScale}`);
    const settings: ResolvedSettings = {
      prompt: o.prompt,
      negativePrompt: o.negativePrompt ?? '',
      n: int('n', o.n ?? 1, 1, 64),
      guidanceScale,
      steps: int('steps', o.steps ?? 50, 1, 1000),
      width: side('width', o.width ?? this.defaultSize),
      height: side('height', o.height ?? this.defaultSize),
      seed: o.seed === undefined ? randomInt(0, 2 ** 32) : int('seed', o.seed, 0, MAX_SEED),
      scheduler,
      clipSkip: int('clipSkip', o.clipSkip ?? 1, 1, this.info.textEncoder.layers),
    };
    if (o.latents) {
      const shape = [settings.n, this.info.unet.inChannels, settings.height / this.vae.scale, settings.width / this.vae.scale];
      if (o.latents.length !== shape.reduce((a, b) => a * b, 1)) {
        throw new Error(`StableDiffusion: latents hold ${o.latents.length} values, expected [${shape.join(', ')}] for ${settings.n} image(s) of ${settings.width}x${settings.height}`);
      }
    }
    return settings;
  }

  private async run(s: ResolvedSettings, o: GenerateOptions): Promise<GenerationResult> {
    if (this.disposed) throw new Error('StableDiffusion: generate after dispose()');
    const rt = this.runtime;
    const progress = o.onProgress;
    const signal = o.signal;
    throwIfAborted(signal);
    const guided = s.guidanceScale > 1;
    const held: Tensor[] = [];
    const start = performance.now();
    const scheduler = createScheduler(s.scheduler, s.steps, this.schedulerConfig);
    let hooks: AttentionHooks<unknown> | undefined;
    try {
      // a fresh plug-in per generation: its per-block state must not leak between images
      const merge: MergeSession | null = mergeSession(rt, o.merge);
      hooks = merge ? new AttentionHooks(merge.plugin) : undefined;
      // ---- text ----
      progress?.({ stage: 'text', step: 0, total: 1 });
      const promptIds = await this.tokenizer.encode(s.prompt);
      const negativeIds = guided ? await this.tokenizer.encode(s.negativePrompt) : null;
      throwIfAborted(signal);
      const rows = [...(negativeIds ? new Array(s.n).fill(negativeIds.ids) : []), ...new Array(s.n).fill(promptIds.ids)] as Int32Array[];
      const length = promptIds.ids.length;
      const ids = new Uint32Array(rows.length * length);
      rows.forEach((r, i) => ids.set(r, i * length));
      const idTensor = rt.upload(ids, [rows.length, length], 'u32');
      held.push(idTensor);
      const context = this.textEncoder.encode(idTensor, { clipSkip: s.clipSkip });
      held.push(context);
      await rt.sync();
      const textDone = performance.now();
      progress?.({ stage: 'text', step: 1, total: 1 });

      // ---- latents ----
      const scale = this.vae.scale;
      const shape = [s.n, this.info.unet.inChannels, s.height / scale, s.width / scale];
      const noise = o.latents ? Float32Array.from(o.latents) : new TorchGenerator(s.seed).randn(shape);
      const sigma = Math.fround(scheduler.initNoiseSigma);
      if (sigma !== 1) for (let i = 0; i < noise.length; i++) noise[i] = Math.fround(noise[i]! * sigma);
      const latents0 = rt.upload(noise, shape, 'f32');
      held.push(latents0);

      // ---- denoise ----
      const total = scheduler.timesteps.length;
      progress?.({ stage: 'denoise', step: 0, total });
      const profile: DenoiseProfile | undefined = o.profile ? { unetMs: 0, schedulerMs: 0 } : undefined;
      const recording = { ms: 0 };
      const latents = await denoise({
        rt,
        unet: this.unet,
        scheduler,
        latents: latents0,
        context,
        guidanceScale: s.guidanceScale,
        hooks,
        signal,
        onEvaluation: progress ? (step, all) => progress({ stage: 'denoise', step, total: all }) : undefined,
        onStep: o.onStep,
        profile,
        recording,
      });
      held.push(latents);
      const denoiseDone = performance.now();

      // ---- decode ----
      throwIfAborted(signal);
      progress?.({ stage: 'decode', step: 0, total: 1 });
      const rgb = await latentsToImages(rt, this.vae, latents, { tiled: o.tiledDecode });
      const end = performance.now();
      progress?.({ stage: 'decode', step: 1, total: 1 });
      return {
        images: rgb.map((img, index) => ({ ...img, seed: s.seed, index })),
        seed: s.seed,
        settings: s,
        evaluations: total,
        timings: {
          textMs: textDone - start,
          denoiseMs: denoiseDone - textDone,
          decodeMs: end - denoiseDone,
          totalMs: end - start,
          recordMs: recording.ms,
          ...(profile ? { unetMs: profile.unetMs, schedulerMs: profile.schedulerMs } : {}),
        },
        truncatedTokens: { prompt: promptIds.droppedTokens, negativePrompt: negativeIds?.droppedTokens ?? 0 },
      };
    } finally {
      for (const t of held) t.dispose();
      scheduler.dispose();
      hooks?.dispose();
    }
  }
}

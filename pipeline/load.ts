// Loading every component of an SD 1.x model from a diffusers folder or a single-file checkpoint:
// configs and weight sources from openModelFiles, then the tokenizer, the text encoder, the U-Net
// and the VAE decoder on the GPU, reporting the bytes uploaded as progress. A failure part-way frees
// what was already uploaded.

import { basename } from 'node:path';
import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { elementCount, bytesPerElement, type FloatDType } from '../runtime/dtype.js';
import { loadParameters, type WeightSource } from '../runtime/weights.js';
import { ClipTokenizer } from '../clip/tokenizer.js';
import { ClipTextEncoder, clipTextParameterShapes } from '../clip/text-encoder.js';
import type { ClipTextConfig } from '../clip/config.js';
import { UNet } from '../unet/unet.js';
import { unetParameterShapes } from '../unet/parameters.js';
import type { UNetConfig } from '../unet/config.js';
import { AutoencoderKL, vaeDType } from '../vae/vae.js';
import { vaeParameterShapes } from '../vae/parameters.js';
import type { VaeConfig } from '../vae/config.js';
import { schedulerConfigFromJson, type SchedulerConfig } from '../scheduler/config.js';
import { openModelFiles, requireTokenizerDir, type CheckpointLayout, type ModelFilesOptions } from './model-files.js';
import type { ProgressCallback } from './progress.js';

export interface ComponentLoadOptions extends Omit<ModelFilesOptions, 'dtype'> {
  /** Storage dtype of the U-Net and text encoder. */
  readonly dtype: FloatDType;
  /** The VAE's; default: vaeDType() (f32 where its config says force_upcast, else dtype). */
  readonly vaeDType?: FloatDType;
  /** Sees { stage: 'load', step: bytes uploaded, total: bytes to upload }. */
  readonly onProgress?: ProgressCallback;
}

/** What was loaded, from where: for messages, image metadata and benchmarks. */
export interface ModelInfo {
  /** The path as resolved (a folder or a .safetensors file). */
  readonly path: string;
  /** A short name for image metadata: the folder's or file's base name. */
  readonly name: string;
  readonly layout: CheckpointLayout;
  readonly dtype: FloatDType;
  readonly vaeDType: FloatDType;
  readonly unet: UNetConfig;
  readonly vae: VaeConfig;
  readonly textEncoder: ClipTextConfig;
  /** Where each config came from (a config.json path or how it was inferred). */
  readonly configSources: { readonly unet: string; readonly vae: string; readonly textEncoder: string; readonly scheduler: string };
  readonly tokenizerDir: string;
  /** Bytes of weights uploaded to the GPU. */
  readonly weightBytes: number;
}

export interface LoadedComponents {
  readonly tokenizer: ClipTokenizer;
  readonly textEncoder: ClipTextEncoder;
  readonly unet: UNet;
  readonly vae: AutoencoderKL;
  readonly scheduler: Partial<SchedulerConfig>;
  readonly info: ModelInfo;
}

export async function loadComponents(rt: Runtime, path: string, options: ComponentLoadOptions): Promise<LoadedComponents> {
  const { dtype, vaeDType: vaeChoice, onProgress, ...fileOptions } = options;
  if (!rt.features.f16) {
    if (dtype === 'f16') throw new Error('this device has no shader-f16; load with dtype f32');
    if (vaeChoice === 'f16') throw new Error('this device has no shader-f16; use vaeDType f32 (--vae-dtype f32)');
  }
  const files = await openModelFiles(path, { ...fileOptions, dtype });
  const owned: { dispose(): void }[] = [];
  try {
    const tokenizerDir = requireTokenizerDir(files);
    const textConfig = files.textEncoder.config;
    const unetConfig = files.unet.config;
    const vaeConfig = files.vae.config;
    const scheduler = schedulerConfigFromJson(files.scheduler.config, files.scheduler.source);
    const vaeType = vaeChoice ?? vaeDType(vaeConfig, dtype);

    const textShapes = clipTextParameterShapes(textConfig);
    const unetShapes = unetParameterShapes(unetConfig);
    const vaeShapes = vaeParameterShapes(vaeConfig, 'decoder');
    const total = bytesOf(textShapes, dtype) + bytesOf(unetShapes, dtype) + bytesOf(vaeShapes, vaeType);
    let done = 0;
    const counted = (source: WeightSource): WeightSource =>
      countingSource(source, (bytes) => {
        done += bytes;
        onProgress?.({ stage: 'load', step: done, total });
      });
    onProgress?.({ stage: 'load', step: 0, total });

    const tokenizer = await ClipTokenizer.load(tokenizerDir, { maxLength: textConfig.maxPositions });
    const textWeights = await loadParameters(rt, counted(files.textEncoder.weights), textShapes, dtype);
    const textEncoder = adopt(owned, textWeights, () => ClipTextEncoder.create(rt, textConfig, textWeights));
    const unetWeights = await loadParameters(rt, counted(files.unet.weights), unetShapes, dtype);
    const unet = adopt(owned, unetWeights, () => UNet.create(rt, unetConfig, unetWeights, dtype));
    const vae = await AutoencoderKL.load(rt, vaeConfig, counted(files.vae.weights), { dtype: vaeType, parts: 'decoder' });
    owned.push(vae);
    // Uploads are queued writes: wait for them so load time is real and memory errors surface here.
    await rt.sync();
    return {
      tokenizer,
      textEncoder,
      unet,
      vae,
      scheduler,
      info: {
        path: files.path,
        name: basename(files.path),
        layout: files.layout,
        dtype,
        vaeDType: vaeType,
        unet: unetConfig,
        vae: vaeConfig,
        textEncoder: textConfig,
        configSources: {
          unet: files.unet.configSource,
          vae: files.vae.configSource,
          textEncoder: files.textEncoder.configSource,
          scheduler: files.scheduler.source,
        },
        tokenizerDir,
        weightBytes: total,
      },
    };
  } catch (e) {
    for (const o of owned.reverse()) o.dispose();
    throw e;
  } finally {
    await files.close();
  }
}

/** Builds a model that takes over `weights`; frees them if building fails. */
function adopt<M extends { dispose(): void }>(owned: { dispose(): void }[], weights: Map<string, Tensor>, build: () => M): M {
  let model: M;
  try {
    model = build();
  } catch (e) {
    for (const t of weights.values()) t.dispose();
    throw e;
  }
  owned.push(model);
  return model;
}

function bytesOf(shapes: ReadonlyMap<string, readonly number[]>, dtype: FloatDType): number {
  let bytes = 0;
  for (const s of shapes.values()) bytes += elementCount(s) * bytesPerElement(dtype);
  return bytes;
}

/** The same source, calling back with each weight's uploaded size. */
function countingSource(source: WeightSource, loaded: (bytes: number) => void): WeightSource {
  return {
    label: source.label,
    names: () => source.names(),
    has: (n) => source.has(n),
    shape: (n) => source.shape(n),
    stored: (n) => source.stored(n),
    load: async (rt, n, dtype) => {
      const t = await source.load(rt, n, dtype);
      loaded(t.byteLength);
      return t;
    },
    readFloat32: (n) => source.readFloat32(n),
  };
}

// Builds the three networks from a model's files for the conformance parts.

import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { Tensor } from '../../runtime/tensor.js';
import { loadParameters, type WeightSource } from '../../runtime/weights.js';
import { ClipTextEncoder, clipTextParameterShapes } from '../../clip/text-encoder.js';
import { UNet } from '../../unet/unet.js';
import { unetParameterShapes } from '../../unet/parameters.js';
import { AutoencoderKL } from '../../vae/vae.js';
import type { ModelFiles } from '../model-files.js';

/** Weight sources to build from; defaults to the model files' own. */
export interface SourceOverrides {
  readonly unet?: WeightSource;
  readonly vae?: WeightSource;
  readonly textEncoder?: WeightSource;
}

export async function loadTextEncoder(rt: Runtime, files: ModelFiles, dtype: FloatDType, source?: WeightSource): Promise<ClipTextEncoder> {
  const config = files.textEncoder.config;
  const weights = await loadParameters(rt, source ?? files.textEncoder.weights, clipTextParameterShapes(config), dtype);
  return ClipTextEncoder.create(rt, config, weights);
}

export async function loadUNet(rt: Runtime, files: ModelFiles, dtype: FloatDType, source?: WeightSource): Promise<UNet> {
  const config = files.unet.config;
  const weights = await loadParameters(rt, source ?? files.unet.weights, unetParameterShapes(config), dtype);
  try {
    return UNet.create(rt, config, weights, dtype);
  } catch (e) {
    for (const t of weights.values()) t.dispose();
    throw e;
  }
}

export function loadVae(rt: Runtime, files: ModelFiles, dtype: FloatDType, source?: WeightSource): Promise<AutoencoderKL> {
  return AutoencoderKL.load(rt, files.vae.config, source ?? files.vae.weights, { dtype });
}

/**
 * A capture callback that copies the named activations (those in `wanted`) into kept tensors,
 * since captured tensors live only during the call. Dispose the map's tensors when done.
 */
export function copyingCapture(rt: Runtime, wanted: ReadonlySet<string>, into: Map<string, Tensor>): (name: string, t: Tensor) => void {
  return (name, t) => {
    if (!wanted.has(name) || into.has(name)) return;
    const c = rt.keep(rt.empty(t.shape, t.dtype));
    rt.copy(t, c);
    into.set(name, c);
  };
}

export function disposeAll(tensors: Iterable<Tensor>): void {
  for (const t of tensors) t.dispose();
}

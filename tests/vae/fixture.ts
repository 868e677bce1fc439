// The tiny SD VAE fixture and its diffusers goldens, shared by the VAE tests.

import { readFileSync } from 'node:fs';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { MappedWeightSource } from '../../runtime/weights.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { parseVaeConfig, type VaeConfig } from '../../vae/config.js';
import { diffusersVaeMapping } from '../../vae/ldm-names.js';
import { AutoencoderKL, type VaeParts } from '../../vae/vae.js';

export const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
export const VAE_TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2 };
export const VAE_WEIGHTS = `${fixture}/model/vae/diffusion_pytorch_model.safetensors`;

export function tinyVaeConfig(): VaeConfig {
  const path = `${fixture}/model/vae/config.json`;
  return parseVaeConfig(JSON.parse(readFileSync(path, 'utf8')), path);
}

/** The fixture's VAE (F32 weights) loaded as dtype. */
export async function loadTinyVae(rt: Runtime, dtype: FloatDType, parts: VaeParts = 'all'): Promise<AutoencoderKL> {
  const file = await SafetensorsFile.open(VAE_WEIGHTS);
  try {
    const source = MappedWeightSource.create([file], { label: 'tiny-sd vae', map: diffusersVaeMapping });
    return await AutoencoderKL.load(rt, tinyVaeConfig(), source, { dtype, parts });
  } finally {
    await file.close();
  }
}

/** golden/vae.safetensors, each tensor readable as f32 or uploadable. */
export interface VaeGolden {
  read(name: string): Promise<Float32Array>;
  shape(name: string): readonly number[];
  upload(rt: Runtime, name: string): Promise<Tensor>;
  close(): Promise<void>;
}

export async function openVaeGolden(): Promise<VaeGolden> {
  const file = await SafetensorsFile.open(`${fixture}/golden/vae.safetensors`);
  return {
    read: (name) => file.readFloat32(name),
    shape: (name) => file.entry(name).shape,
    upload: async (rt, name) => rt.upload(await file.readFloat32(name), file.entry(name).shape, 'f32'),
    close: () => file.close(),
  };
}

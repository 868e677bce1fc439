// The tiny SD U-Net fixture and its diffusers goldens, shared by the U-Net tests.

import { readFileSync } from 'node:fs';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { MappedWeightSource, loadParameters } from '../../runtime/weights.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { parseUNetConfig, type UNetConfig } from '../../unet/config.js';
import { unetParameterShapes } from '../../unet/parameters.js';
import { UNet } from '../../unet/unet.js';

export const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
export const UNET_TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2 };

export function tinyUNetConfig(): UNetConfig {
  const path = `${fixture}/model/unet/config.json`;
  return parseUNetConfig(JSON.parse(readFileSync(path, 'utf8')), path);
}

/** The fixture's U-Net with its F16 weights loaded as dtype (widened exactly for f32). */
export async function loadTinyUNet(rt: Runtime, dtype: FloatDType): Promise<UNet> {
  const config = tinyUNetConfig();
  const file = await SafetensorsFile.open(`${fixture}/model/unet/diffusion_pytorch_model.safetensors`);
  try {
    const source = MappedWeightSource.create([file], { label: 'tiny-sd unet' });
    const weights = await loadParameters(rt, source, unetParameterShapes(config), dtype);
    return UNet.create(rt, config, weights, dtype);
  } finally {
    await file.close();
  }
}

export interface UNetGolden {
  readonly file: SafetensorsFile;
  readonly sample: Tensor;
  readonly context: Tensor;
  read(name: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** golden/unet.safetensors: sample [2, 4, 16, 16] and encoder_hidden_states [2, 77, 32] uploaded as f32. */
export async function openUNetGolden(rt: Runtime): Promise<UNetGolden> {
  const file = await SafetensorsFile.open(`${fixture}/golden/unet.safetensors`);
  const upload = async (name: string) => rt.keep(rt.upload(await file.readFloat32(name), file.entry(name).shape, 'f32'));
  const sample = await upload('sample');
  const context = await upload('encoder_hidden_states');
  return {
    file,
    sample,
    context,
    read: (name) => file.readFloat32(name),
    dispose: async () => {
      sample.dispose();
      context.dispose();
      await file.close();
    },
  };
}

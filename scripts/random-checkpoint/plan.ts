// What a random checkpoint holds: per component, the safetensors file with every parameter the
// model code expects (names and shapes from unetParameterShapes, vaeParameterShapes and
// clipTextParameterShapes for the parsed configs, so the result always loads), the rule each
// tensor is drawn by, and the exact file sizes.

import { planHeader } from '../../runtime/safetensors-header.js';
import type { SafetensorsDType } from '../../runtime/safetensors.js';
import { parseUNetConfig } from '../../unet/config.js';
import { unetParameterShapes } from '../../unet/parameters.js';
import { parseVaeConfig } from '../../vae/config.js';
import { vaeParameterShapes } from '../../vae/parameters.js';
import { parseClipTextConfig } from '../../clip/config.js';
import { clipTextParameterShapes } from '../../clip/text-encoder.js';
import { archConfigs, type Arch, type ArchConfigs } from './configs.js';
import { initRule, type InitRule } from './init.js';

export type CheckpointDType = 'f16' | 'f32';
export type ComponentName = 'unet' | 'vae' | 'text_encoder';

/** Written into every file's header, as PyTorch-saved safetensors carry it (transformers checks it). */
export const SAFETENSORS_METADATA: Readonly<Record<string, string>> = { format: 'pt' };

export interface PlannedTensor {
  /** The model's name for it: the init rule and the random stream are keyed by it. */
  readonly name: string;
  /** The name in the file (transformers' CLIPTextModel keeps a `text_model.` level). */
  readonly key: string;
  readonly shape: readonly number[];
  readonly rule: InitRule;
}

export interface ComponentPlan {
  readonly component: ComponentName;
  /** Paths inside the checkpoint folder. */
  readonly weightsFile: string;
  readonly configFile: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly tensors: readonly PlannedTensor[];
  readonly params: number;
  /** The safetensors file's exact size. */
  readonly bytes: number;
}

export interface CheckpointPlan {
  readonly arch: Arch;
  readonly dtype: CheckpointDType;
  readonly configs: ArchConfigs;
  readonly components: readonly ComponentPlan[];
  readonly params: number;
  /** All weight files together (configs and tokenizer files not counted). */
  readonly bytes: number;
}

export const STORED_DTYPE: Readonly<Record<CheckpointDType, SafetensorsDType>> = { f16: 'F16', f32: 'F32' };

function component(
  name: ComponentName,
  weightsFile: string,
  configFile: string,
  config: Readonly<Record<string, unknown>>,
  shapes: ReadonlyMap<string, readonly number[]>,
  keyOf: (name: string) => string,
  dtype: CheckpointDType,
): ComponentPlan {
  const tensors = [...shapes].map(([n, shape]) => ({ name: n, key: keyOf(n), shape, rule: initRule(n, shapes) }));
  const stored = STORED_DTYPE[dtype];
  const header = planHeader(weightsFile, tensors.map((t) => ({ name: t.key, dtype: stored, shape: t.shape })), SAFETENSORS_METADATA);
  const params = tensors.reduce((sum, t) => sum + t.shape.reduce((p, d) => p * d, 1), 0);
  return { component: name, weightsFile, configFile, config, tensors, params, bytes: header.fileSize };
}

export function planCheckpoint(arch: Arch, dtype: CheckpointDType): CheckpointPlan {
  const configs = archConfigs(arch);
  const where = (file: string): string => `${arch} ${file}`;
  const unet = parseUNetConfig(configs.unet, where('unet/config.json'));
  const vae = parseVaeConfig(configs.vae, where('vae/config.json'));
  const text = parseClipTextConfig(configs.textEncoder, where('text_encoder/config.json'));
  const same = (n: string): string => n;
  const components = [
    component('unet', 'unet/diffusion_pytorch_model.safetensors', 'unet/config.json', configs.unet, unetParameterShapes(unet), same, dtype),
    component('vae', 'vae/diffusion_pytorch_model.safetensors', 'vae/config.json', configs.vae, vaeParameterShapes(vae), same, dtype),
    component(
      'text_encoder',
      'text_encoder/model.safetensors',
      'text_encoder/config.json',
      configs.textEncoder,
      clipTextParameterShapes(text),
      (n) => `text_model.${n}`,
      dtype,
    ),
  ];
  return {
    arch,
    dtype,
    configs,
    components,
    params: components.reduce((s, c) => s + c.params, 0),
    bytes: components.reduce((s, c) => s + c.bytes, 0),
  };
}

// The config.json files a random checkpoint is written with: Stable Diffusion 1.5's own
// (runwayml/stable-diffusion-v1-5, values as published) or the tiny test fixture's topology.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../runtime/paths.js';

export type Arch = 'sd15' | 'tiny';
export const ARCHS: readonly Arch[] = ['sd15', 'tiny'];

type Json = Readonly<Record<string, unknown>>;

export interface ArchConfigs {
  readonly arch: Arch;
  /** Where the values come from, for messages. */
  readonly source: string;
  readonly modelIndex: Json;
  readonly unet: Json;
  readonly vae: Json;
  readonly textEncoder: Json;
  readonly scheduler: Json;
}

/** The bundled fixture's diffusers folder: its configs define --arch tiny, its tokenizer is the default. */
export const FIXTURE_MODEL_DIR = fromRoot('tests', 'fixtures', 'tiny-sd', 'model');

const SD15_MODEL_INDEX: Json = {
  _class_name: 'StableDiffusionPipeline',
  _diffusers_version: '0.18.0.dev0',
  // no safety checker: diffusers loads [null, null] components as absent
  feature_extractor: [null, null],
  requires_safety_checker: false,
  safety_checker: [null, null],
  scheduler: ['diffusers', 'PNDMScheduler'],
  text_encoder: ['transformers', 'CLIPTextModel'],
  tokenizer: ['transformers', 'CLIPTokenizer'],
  unet: ['diffusers', 'UNet2DConditionModel'],
  vae: ['diffusers', 'AutoencoderKL'],
};

const SD15_UNET: Json = {
  _class_name: 'UNet2DConditionModel',
  _diffusers_version: '0.17.0.dev0',
  act_fn: 'silu',
  addition_embed_type: null,
  addition_embed_type_num_heads: 64,
  attention_head_dim: 8,
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  class_embed_type: null,
  class_embeddings_concat: false,
  conv_in_kernel: 3,
  conv_out_kernel: 3,
  cross_attention_dim: 768,
  cross_attention_norm: null,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  dual_cross_attention: false,
  encoder_hid_dim: null,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 2,
  mid_block_only_cross_attention: null,
  mid_block_scale_factor: 1,
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  norm_eps: 1e-5,
  norm_num_groups: 32,
  num_class_embeds: null,
  only_cross_attention: false,
  out_channels: 4,
  projection_class_embeddings_input_dim: null,
  resnet_out_scale_factor: 1.0,
  resnet_skip_time_act: false,
  resnet_time_scale_shift: 'default',
  sample_size: 64,
  time_cond_proj_dim: null,
  time_embedding_act_fn: null,
  time_embedding_dim: null,
  time_embedding_type: 'positional',
  timestep_post_act: null,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  upcast_attention: null,
  use_linear_projection: false,
};

const SD15_VAE: Json = {
  _class_name: 'AutoencoderKL',
  _diffusers_version: '0.6.0',
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 512,
  scaling_factor: 0.18215,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
};

const SD15_TEXT_ENCODER: Json = {
  architectures: ['CLIPTextModel'],
  attention_dropout: 0.0,
  bos_token_id: 0,
  dropout: 0.0,
  eos_token_id: 2,
  hidden_act: 'quick_gelu',
  hidden_size: 768,
  initializer_factor: 1.0,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 77,
  model_type: 'clip_text_model',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  projection_dim: 768,
  torch_dtype: 'float32',
  transformers_version: '4.37.2',
  vocab_size: 49408,
};

const SD15_SCHEDULER: Json = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.17.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  clip_sample_range: 1.0,
  dynamic_thresholding_ratio: 0.995,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  sample_max_value: 1.0,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  thresholding: false,
  trained_betas: null,
};

function readJson(path: string): Json {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: --arch tiny takes its configs from the test fixture (unpack it: node scripts/unpack-fixtures.js)`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

export function archConfigs(arch: Arch): ArchConfigs {
  if (arch === 'sd15') {
    return {
      arch,
      source: 'runwayml/stable-diffusion-v1-5 config.json values',
      modelIndex: SD15_MODEL_INDEX,
      unet: SD15_UNET,
      vae: SD15_VAE,
      textEncoder: SD15_TEXT_ENCODER,
      scheduler: SD15_SCHEDULER,
    };
  }
  const dir = FIXTURE_MODEL_DIR;
  return {
    arch,
    source: `the test fixture's configs (${dir})`,
    modelIndex: readJson(join(dir, 'model_index.json')),
    unet: readJson(join(dir, 'unet', 'config.json')),
    vae: readJson(join(dir, 'vae', 'config.json')),
    textEncoder: readJson(join(dir, 'text_encoder', 'config.json')),
    scheduler: readJson(join(dir, 'scheduler', 'scheduler_config.json')),
  };
}

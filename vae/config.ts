// The VAE's configuration: diffusers' AutoencoderKL config.json, narrowed to SD's KL autoencoder,
// plus inference from weight shapes for single-file checkpoints.

import { ConfigFields, isUnset, unsupportedSettings } from '../pipeline/config-json.js';
import { countIndices, type ShapeIndex } from '../runtime/weights.js';

export interface VaeConfig {
  /** Image channels in (encoder) and out (decoder): 3. */
  readonly inChannels: number;
  readonly outChannels: number;
  readonly latentChannels: number;
  /** Channels of each encoder down block; the decoder's up blocks use them reversed. */
  readonly blockOutChannels: readonly number[];
  /** Resnets per encoder block; decoder blocks have one more. */
  readonly layersPerBlock: number;
  readonly normNumGroups: number;
  /**
   * GroupNorm eps everywhere in the encoder and decoder. Not a config.json field: diffusers'
   * Encoder/Decoder hard-code 1e-6 (LDM's Normalize does too).
   */
  readonly normEps: number;
  /** Image side the VAE was trained at (512 for SD 1.5); not a limit. */
  readonly sampleSize: number;
  /** latents = scalingFactor × (z - shiftFactor) before the U-Net; decode divides it back out. */
  readonly scalingFactor: number;
  readonly shiftFactor: number | null;
  readonly useQuantConv: boolean;
  readonly usePostQuantConv: boolean;
  /**
   * Mid blocks carry one self-attention layer. It has a single head as wide as the last block
   * (diffusers passes attention_head_dim = block_out_channels[-1]).
   */
  readonly midBlockAddAttention: boolean;
  /** diffusers runs this VAE in f32 when the pipeline is f16 (SD 1.5's VAE overflows in f16 at times). */
  readonly forceUpcast: boolean;
}

/** runwayml/stable-diffusion-v1-5's vae/config.json. */
export const SD15_VAE_CONFIG: VaeConfig = Object.freeze({
  inChannels: 3,
  outChannels: 3,
  latentChannels: 4,
  blockOutChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  normNumGroups: 32,
  normEps: 1e-6,
  sampleSize: 512,
  scalingFactor: 0.18215,
  shiftFactor: null,
  useQuantConv: true,
  usePostQuantConv: true,
  midBlockAddAttention: true,
  forceUpcast: true,
} satisfies VaeConfig);

/** Parses diffusers' vae/config.json (missing keys take SD 1.5's values). */
export function parseVaeConfig(json: unknown, source = 'vae/config.json'): VaeConfig {
  const f = ConfigFields.of(json, source);
  const d = SD15_VAE_CONFIG;
  const blockOutChannels = f.positiveIntList('block_out_channels', d.blockOutChannels);
  const n = blockOutChannels.length;
  const problems = unsupportedSettings(f, [
    { key: 'act_fn', ok: (v) => isUnset(v) || v === 'silu', want: 'silu' },
    { key: 'latents_mean', ok: isUnset, want: 'null' },
    { key: 'latents_std', ok: isUnset, want: 'null' },
  ]);
  for (const [key, want] of [
    ['down_block_types', 'DownEncoderBlock2D'],
    ['up_block_types', 'UpDecoderBlock2D'],
  ] as const) {
    const types = f.stringList(key, new Array<string>(n).fill(want));
    if (types.length !== n) problems.push(`${key} has ${types.length} entries for ${n} block_out_channels`);
    if (types.some((t) => t !== want)) problems.push(`${key} = ${JSON.stringify(types)} (supported: ${want} only)`);
  }
  if (problems.length > 0) throw new Error(`${source}: unsupported VAE settings:\n  ${problems.join('\n  ')}`);
  const config: VaeConfig = {
    inChannels: f.positiveInt('in_channels', d.inChannels),
    outChannels: f.positiveInt('out_channels', d.outChannels),
    latentChannels: f.positiveInt('latent_channels', d.latentChannels),
    blockOutChannels,
    layersPerBlock: f.positiveInt('layers_per_block', d.layersPerBlock),
    normNumGroups: f.positiveInt('norm_num_groups', d.normNumGroups),
    normEps: d.normEps,
    sampleSize: f.positiveInt('sample_size', d.sampleSize),
    scalingFactor: f.number('scaling_factor', d.scalingFactor),
    shiftFactor: f.nullableNumber('shift_factor'),
    useQuantConv: f.bool('use_quant_conv', d.useQuantConv),
    usePostQuantConv: f.bool('use_post_quant_conv', d.usePostQuantConv),
    midBlockAddAttention: f.bool('mid_block_add_attention', d.midBlockAddAttention),
    forceUpcast: f.bool('force_upcast', d.forceUpcast),
  };
  checkVaeConfig(config, source);
  return config;
}

export function checkVaeConfig(c: VaeConfig, source: string): void {
  const bad = c.blockOutChannels.filter((ch) => ch % c.normNumGroups !== 0);
  if (bad.length > 0) {
    throw new Error(`${source}: VAE block channels ${bad.join(', ')} do not split into ${c.normNumGroups} norm groups`);
  }
}

/**
 * Builds a config from the weights' shapes (diffusers names): image/latent channels, block
 * channels, layers per block, quant convs and mid attention. Norm groups, sample size and the
 * scaling factor are not visible in shapes and come from `defaults` (SD 1.5: 32, 512, 0.18215).
 */
export function inferVaeConfig(weights: ShapeIndex, defaults: VaeConfig = SD15_VAE_CONFIG): VaeConfig {
  const names = weights.names();
  const shapeOf = (name: string): readonly number[] => {
    if (!weights.has(name)) throw new Error(`cannot infer the VAE config: the checkpoint has no ${name}`);
    return weights.shape(name);
  };
  const n = countIndices(names, /^encoder\.down_blocks\.(\d+)\./);
  if (n === 0) throw new Error('cannot infer the VAE config: no encoder.down_blocks.* weights');
  const blockOutChannels: number[] = [];
  for (let i = 0; i < n; i++) blockOutChannels.push(shapeOf(`encoder.down_blocks.${i}.resnets.0.conv1.weight`)[0]!);
  const config: VaeConfig = {
    ...defaults,
    inChannels: shapeOf('encoder.conv_in.weight')[1]!,
    outChannels: shapeOf('decoder.conv_out.weight')[0]!,
    latentChannels: shapeOf('decoder.conv_in.weight')[1]!,
    blockOutChannels,
    layersPerBlock: countIndices(names, /^encoder\.down_blocks\.0\.resnets\.(\d+)\./),
    useQuantConv: weights.has('quant_conv.weight'),
    usePostQuantConv: weights.has('post_quant_conv.weight'),
    midBlockAddAttention: names.some((k) => k.startsWith('encoder.mid_block.attentions.')),
  };
  checkVaeConfig(config, 'VAE config inferred from weight shapes');
  return config;
}

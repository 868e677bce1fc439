// The U-Net's configuration: diffusers' UNet2DConditionModel config.json, narrowed to what an
// SD 1.x U-Net uses, plus inference from weight shapes for single-file checkpoints.

import { ConfigFields, isUnset, unsupportedSettings } from '../pipeline/config-json.js';
import { countIndices, type ShapeIndex } from '../runtime/weights.js';

export type UNetDownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UNetUpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

export interface UNetConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Latent side length the model was trained at (64 for SD 1.5 = 512 px); not a limit. */
  readonly sampleSize: number;
  /** Channels of each down block (up blocks use them reversed). */
  readonly blockOutChannels: readonly number[];
  /** Resnets per down block; up blocks have one more. */
  readonly layersPerBlock: number;
  readonly downBlockTypes: readonly UNetDownBlockType[];
  readonly upBlockTypes: readonly UNetUpBlockType[];
  /** mid_block_type UNetMidBlock2DCrossAttn (true) or null (false: no mid block at all). */
  readonly midBlockCrossAttn: boolean;
  /** Width of the text embeddings the cross-attention reads (768 for CLIP ViT-L/14). */
  readonly crossAttentionDim: number;
  /**
   * Attention heads of each down block, diffusers order. The mid block uses the last entry and up
   * block i uses entry (n-1-i): see attentionHeads(). Head dim = block channels / heads.
   */
  readonly attentionHeads: readonly number[];
  /** Transformer blocks per attention layer, per down block (mid: last entry, up: reversed). */
  readonly transformerLayersPerBlock: readonly number[];
  /** proj_in/proj_out are linear [C, C] (SD 2.x) rather than 1×1 convs [C, C, 1, 1] (SD 1.x). */
  readonly useLinearProjection: boolean;
  /** Attention scores computed in f32 even for f16 weights (SD 2.1 needs it; SD 1.5 does not). */
  readonly upcastAttention: boolean;
  readonly normNumGroups: number;
  readonly normEps: number;
  /** Sinusoidal timestep embedding: cos first (true for SD) and the frequency shift (0 for SD). */
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
  /** Width of the time embedding MLP: 4 × blockOutChannels[0] unless time_embedding_dim is set. */
  readonly timeEmbeddingDim: number;
  readonly downsamplePadding: number;
  readonly midBlockScaleFactor: number;
}

/**
 * runwayml/stable-diffusion-v1-5's unet/config.json. Used as-is for the fields a single-file
 * checkpoint cannot tell from its shapes (heads, norm groups/eps, sample size).
 */
export const SD15_UNET_CONFIG: UNetConfig = Object.freeze({
  inChannels: 4,
  outChannels: 4,
  sampleSize: 64,
  blockOutChannels: [320, 640, 1280, 1280],
  layersPerBlock: 2,
  downBlockTypes: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  upBlockTypes: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  midBlockCrossAttn: true,
  crossAttentionDim: 768,
  attentionHeads: [8, 8, 8, 8],
  transformerLayersPerBlock: [1, 1, 1, 1],
  useLinearProjection: false,
  upcastAttention: false,
  normNumGroups: 32,
  normEps: 1e-5,
  flipSinToCos: true,
  freqShift: 0,
  timeEmbeddingDim: 1280,
  downsamplePadding: 1,
  midBlockScaleFactor: 1,
} satisfies UNetConfig);

/** SD 1.x trains every attention layer with 8 heads whatever its width (head dim 40, 80, 160). */
export const SD1_UNET_HEADS = 8;

/** Heads of one attention layer, following diffusers' per-block lists. */
export function attentionHeads(config: UNetConfig, where: 'down' | 'mid' | 'up', block = 0): number {
  const h = config.attentionHeads;
  if (where === 'mid') return h[h.length - 1]!;
  const i = where === 'down' ? block : h.length - 1 - block;
  const v = h[i];
  if (v === undefined) throw new Error(`U-Net has ${h.length} blocks, no ${where} block ${block}`);
  return v;
}

const DOWN_TYPES: readonly UNetDownBlockType[] = ['CrossAttnDownBlock2D', 'DownBlock2D'];
const UP_TYPES: readonly UNetUpBlockType[] = ['CrossAttnUpBlock2D', 'UpBlock2D'];

/**
 * Parses diffusers' unet/config.json (missing keys take SD 1.5's values).
 *
 * Heads: in SD 1.x/2.x configs `attention_head_dim` is, despite its name, the NUMBER OF HEADS
 * (diffusers kept the misnomer for compatibility: UNet2DConditionModel does
 * `num_attention_heads = num_attention_heads or attention_head_dim`). A non-null
 * `num_attention_heads` takes precedence. Either may be one int or one per down block.
 *
 * Features SD 1.5 never uses (class/addition embeddings, other time embeddings, scale-shift norms,
 * ...) are rejected with one error listing them all, rather than silently ignored.
 */
export function parseUNetConfig(json: unknown, source = 'unet/config.json'): UNetConfig {
  const f = ConfigFields.of(json, source);
  const d = SD15_UNET_CONFIG;
  const blockOutChannels = f.positiveIntList('block_out_channels', d.blockOutChannels);
  const n = blockOutChannels.length;
  const downBlockTypes = f.stringList('down_block_types', d.downBlockTypes);
  const upBlockTypes = f.stringList('up_block_types', d.upBlockTypes);
  const problems = unsupportedSettings(f, [
    { key: 'act_fn', ok: (v) => isUnset(v) || v === 'silu', want: 'silu' },
    { key: 'center_input_sample', ok: (v) => isUnset(v) || v === false, want: 'false' },
    { key: 'time_embedding_type', ok: (v) => isUnset(v) || v === 'positional', want: 'positional' },
    { key: 'time_embedding_act_fn', ok: isUnset, want: 'null' },
    { key: 'timestep_post_act', ok: isUnset, want: 'null' },
    { key: 'time_cond_proj_dim', ok: isUnset, want: 'null' },
    { key: 'class_embed_type', ok: isUnset, want: 'null' },
    { key: 'num_class_embeds', ok: isUnset, want: 'null' },
    { key: 'addition_embed_type', ok: isUnset, want: 'null' },
    { key: 'encoder_hid_dim', ok: isUnset, want: 'null' },
    { key: 'encoder_hid_dim_type', ok: isUnset, want: 'null' },
    { key: 'resnet_time_scale_shift', ok: (v) => isUnset(v) || v === 'default', want: 'default' },
    { key: 'resnet_skip_time_act', ok: (v) => isUnset(v) || v === false, want: 'false' },
    { key: 'resnet_out_scale_factor', ok: (v) => isUnset(v) || v === 1, want: '1.0' },
    { key: 'only_cross_attention', ok: (v) => isUnset(v) || v === false, want: 'false' },
    { key: 'dual_cross_attention', ok: (v) => isUnset(v) || v === false, want: 'false' },
    { key: 'cross_attention_norm', ok: isUnset, want: 'null' },
    { key: 'attention_type', ok: (v) => isUnset(v) || v === 'default', want: 'default' },
    { key: 'conv_in_kernel', ok: (v) => isUnset(v) || v === 3, want: '3' },
    { key: 'conv_out_kernel', ok: (v) => isUnset(v) || v === 3, want: '3' },
    { key: 'mid_block_type', ok: (v) => isUnset(v) || v === 'UNetMidBlock2DCrossAttn', want: 'UNetMidBlock2DCrossAttn' },
    { key: 'reverse_transformer_layers_per_block', ok: isUnset, want: 'null' },
  ]);
  for (const [key, types, allowed] of [
    ['down_block_types', downBlockTypes, DOWN_TYPES],
    ['up_block_types', upBlockTypes, UP_TYPES],
  ] as const) {
    if (types.length !== n) problems.push(`${key} has ${types.length} entries for ${n} block_out_channels`);
    const bad = types.filter((t) => !(allowed as readonly string[]).includes(t));
    if (bad.length > 0) problems.push(`${key} ${JSON.stringify(bad)} (supported: ${allowed.join(', ')})`);
  }
  if (problems.length > 0) throw new Error(`${source}: unsupported U-Net settings:\n  ${problems.join('\n  ')}`);

  const headsKey = f.isSet('num_attention_heads') ? 'num_attention_heads' : 'attention_head_dim';
  const config: UNetConfig = {
    inChannels: f.positiveInt('in_channels', d.inChannels),
    outChannels: f.positiveInt('out_channels', d.outChannels),
    sampleSize: f.positiveInt('sample_size', d.sampleSize),
    blockOutChannels,
    layersPerBlock: f.positiveInt('layers_per_block', d.layersPerBlock),
    downBlockTypes: downBlockTypes as UNetDownBlockType[],
    upBlockTypes: upBlockTypes as UNetUpBlockType[],
    midBlockCrossAttn: f.raw('mid_block_type') !== null,
    crossAttentionDim: f.positiveInt('cross_attention_dim', d.crossAttentionDim),
    attentionHeads: f.perBlockInts(headsKey, SD1_UNET_HEADS, n),
    transformerLayersPerBlock: f.perBlockInts('transformer_layers_per_block', 1, n),
    useLinearProjection: f.bool('use_linear_projection', d.useLinearProjection),
    upcastAttention: f.bool('upcast_attention', d.upcastAttention),
    normNumGroups: f.positiveInt('norm_num_groups', d.normNumGroups),
    normEps: f.number('norm_eps', d.normEps),
    flipSinToCos: f.bool('flip_sin_to_cos', d.flipSinToCos),
    freqShift: f.int('freq_shift', d.freqShift),
    timeEmbeddingDim: f.positiveInt('time_embedding_dim', blockOutChannels[0]! * 4),
    downsamplePadding: f.int('downsample_padding', d.downsamplePadding),
    midBlockScaleFactor: f.number('mid_block_scale_factor', d.midBlockScaleFactor),
  };
  checkUNetConfig(config, source);
  return config;
}

/** Consistency checks every config must pass, parsed or inferred. */
export function checkUNetConfig(c: UNetConfig, source: string): void {
  const problems: string[] = [];
  const n = c.blockOutChannels.length;
  for (const [name, list] of [
    ['attention heads', c.attentionHeads],
    ['transformer layers per block', c.transformerLayersPerBlock],
    ['down block types', c.downBlockTypes],
    ['up block types', c.upBlockTypes],
  ] as const) {
    if (list.length !== n) problems.push(`${list.length} ${name} for ${n} blocks`);
  }
  c.blockOutChannels.forEach((ch, i) => {
    if (ch % c.normNumGroups !== 0) problems.push(`block ${i}: ${ch} channels do not split into ${c.normNumGroups} norm groups`);
    const heads = c.attentionHeads[i];
    if (heads !== undefined && ch % heads !== 0) problems.push(`block ${i}: ${ch} channels do not split into ${heads} heads`);
  });
  if (problems.length > 0) throw new Error(`${source}: inconsistent U-Net config:\n  ${problems.join('\n  ')}`);
}

export interface UNetInferenceOptions {
  /** Heads per down block (or one for all); default SD1_UNET_HEADS (8), SD 1.x's value. */
  readonly attentionHeads?: number | readonly number[];
  /** Defaults for what shapes cannot tell; SD 1.5's config unless given. */
  readonly defaults?: UNetConfig;
}

/**
 * Builds a config from the weights' shapes (diffusers names): channels, block count and types,
 * layers per block, cross-attention width, transformer depth and projection kind. Heads, norm
 * groups/eps, sample size and the timestep embedding's flip/shift are not visible in shapes and
 * come from `defaults` (SD 1.5) or options.attentionHeads.
 */
export function inferUNetConfig(weights: ShapeIndex, options: UNetInferenceOptions = {}): UNetConfig {
  const d = options.defaults ?? SD15_UNET_CONFIG;
  const names = weights.names();
  const shapeOf = (name: string): readonly number[] => {
    if (!weights.has(name)) throw new Error(`cannot infer the U-Net config: the checkpoint has no ${name}`);
    return weights.shape(name);
  };
  const n = countIndices(names, /^down_blocks\.(\d+)\./);
  if (n === 0) throw new Error('cannot infer the U-Net config: no down_blocks.* weights');
  const blockOutChannels: number[] = [];
  const downBlockTypes: UNetDownBlockType[] = [];
  const upBlockTypes: UNetUpBlockType[] = [];
  const transformerLayersPerBlock: number[] = [];
  for (let i = 0; i < n; i++) {
    blockOutChannels.push(shapeOf(`down_blocks.${i}.resnets.0.conv1.weight`)[0]!);
    const downAttn = names.some((k) => k.startsWith(`down_blocks.${i}.attentions.`));
    downBlockTypes.push(downAttn ? 'CrossAttnDownBlock2D' : 'DownBlock2D');
    const upAttn = names.some((k) => k.startsWith(`up_blocks.${i}.attentions.`));
    upBlockTypes.push(upAttn ? 'CrossAttnUpBlock2D' : 'UpBlock2D');
    const depth = countIndices(names, new RegExp(`^down_blocks\\.${i}\\.attentions\\.0\\.transformer_blocks\\.(\\d+)\\.`));
    transformerLayersPerBlock.push(depth || 1);
  }
  const crossKey = names.find((k) => k.endsWith('.attn2.to_k.weight'));
  const projIn = names.find((k) => k.endsWith('.proj_in.weight'));
  const heads = options.attentionHeads ?? SD1_UNET_HEADS;
  const config: UNetConfig = {
    ...d,
    inChannels: shapeOf('conv_in.weight')[1]!,
    outChannels: shapeOf('conv_out.weight')[0]!,
    blockOutChannels,
    layersPerBlock: countIndices(names, /^down_blocks\.0\.resnets\.(\d+)\./),
    downBlockTypes,
    upBlockTypes,
    midBlockCrossAttn: names.some((k) => k.startsWith('mid_block.')),
    crossAttentionDim: crossKey ? shapeOf(crossKey)[1]! : d.crossAttentionDim,
    attentionHeads: typeof heads === 'number' ? new Array<number>(n).fill(heads) : [...heads],
    transformerLayersPerBlock,
    useLinearProjection: projIn ? shapeOf(projIn).length === 2 : d.useLinearProjection,
    timeEmbeddingDim: shapeOf('time_embedding.linear_1.weight')[0]!,
  };
  checkUNetConfig(config, 'U-Net config inferred from weight shapes');
  return config;
}

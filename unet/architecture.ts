// The layout of a diffusers UNet2DConditionModel (SD 1.x family) derived once from its config: block
// channels, heads, skip wiring and parameter names. Both the parameter list and the model build from
// it, so names and wiring cannot drift apart.

import type { UNetConfig } from './config.js';

export interface TransformerSpec {
  /** Parameter prefix, e.g. 'down_blocks.0.attentions.1'. */
  readonly name: string;
  readonly channels: number;
  readonly heads: number;
  readonly headDim: number;
  readonly layers: number;
  readonly contextDim: number;
  readonly linearProjection: boolean;
  /** Index in the block's attentions list. */
  readonly index: number;
}

export interface ResnetSpec {
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
}

export interface DownBlockSpec {
  readonly name: string;
  readonly index: number;
  /** Resolution level: the block runs at latent size / 2^depth. */
  readonly depth: number;
  readonly resnets: readonly ResnetSpec[];
  /** Empty for DownBlock2D; otherwise one per resnet. */
  readonly attentions: readonly TransformerSpec[];
  /** Padding of the stride-2 conv (diffusers pads [0,1,0,1] when it is 0). */
  readonly downsample: { readonly name: string; readonly channels: number; readonly padding: number } | null;
}

export interface UpBlockSpec {
  readonly name: string;
  readonly index: number;
  readonly depth: number;
  /** Resnet i takes cat(hidden, skip) with inChannels = hidden + skip channels. */
  readonly resnets: readonly ResnetSpec[];
  readonly attentions: readonly TransformerSpec[];
  readonly upsample: { readonly name: string; readonly channels: number } | null;
}

export interface MidBlockSpec {
  readonly name: string;
  readonly depth: number;
  readonly resnets: readonly ResnetSpec[];
  readonly attentions: readonly TransformerSpec[];
}

export interface UNetArchitecture {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Width of the sinusoidal timestep features (block_out_channels[0]). */
  readonly timeChannels: number;
  readonly timeEmbedDim: number;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
  readonly groups: number;
  readonly eps: number;
  readonly convInKernel: number;
  readonly convOutKernel: number;
  readonly down: readonly DownBlockSpec[];
  /** null when mid_block_type is null. */
  readonly mid: MidBlockSpec | null;
  readonly up: readonly UpBlockSpec[];
  /** Number of 2× downsamplers: latent sides must be multiples of 2^this. */
  readonly downsamplers: number;
}

/** GroupNorm eps of Transformer2DModel, fixed in diffusers (not the config's norm_eps). */
export const TRANSFORMER_GROUP_NORM_EPS = 1e-6;
/** LayerNorm eps of BasicTransformerBlock (diffusers' default norm_eps, not passed from the U-Net config). */
export const TRANSFORMER_LAYER_NORM_EPS = 1e-5;

/**
 * The U-Net's structure from its parsed config. parseUNetConfig already refuses features SD 1.x
 * never uses; this refuses the few it accepts that this model does not implement.
 */
export function unetArchitecture(config: UNetConfig): UNetArchitecture {
  const channels = config.blockOutChannels;
  const levels = channels.length;
  if (levels === 0) throw new Error('UNet: blockOutChannels is empty');
  if (config.midBlockScaleFactor !== 1) throw new Error(`UNet: mid_block_scale_factor ${config.midBlockScaleFactor} is not supported (only 1)`);
  const perLevel = (list: readonly number[], what: string): readonly number[] => {
    if (list.length !== levels) throw new Error(`UNet: ${what} has ${list.length} entries for ${levels} blocks`);
    return list;
  };
  const heads = perLevel(config.attentionHeads, 'attentionHeads');
  const transformerLayers = perLevel(config.transformerLayersPerBlock, 'transformerLayersPerBlock');
  const layers = config.layersPerBlock;
  const groups = config.normNumGroups;
  const checkGroups = (c: number, where: string) => {
    if (c % groups !== 0) throw new Error(`UNet: ${where} has ${c} channels, not a multiple of norm_num_groups ${groups}`);
  };

  const transformer = (name: string, index: number, c: number, level: number): TransformerSpec => {
    const h = heads[level]!;
    if (c % h !== 0) throw new Error(`UNet: ${name} has ${c} channels, not divisible into ${h} heads`);
    checkGroups(c, name);
    return {
      name,
      index,
      channels: c,
      heads: h,
      headDim: c / h,
      layers: transformerLayers[level]!,
      contextDim: config.crossAttentionDim,
      linearProjection: config.useLinearProjection,
    };
  };

  const down: DownBlockSpec[] = [];
  let outputChannel = channels[0]!;
  for (let i = 0; i < levels; i++) {
    const inputChannel = outputChannel;
    outputChannel = channels[i]!;
    const name = `down_blocks.${i}`;
    const cross = config.downBlockTypes[i] === 'CrossAttnDownBlock2D';
    const resnets: ResnetSpec[] = [];
    const attentions: TransformerSpec[] = [];
    for (let j = 0; j < layers; j++) {
      const rin = j === 0 ? inputChannel : outputChannel;
      checkGroups(rin, `${name}.resnets.${j}`);
      resnets.push({ name: `${name}.resnets.${j}`, inChannels: rin, outChannels: outputChannel });
      if (cross) attentions.push(transformer(`${name}.attentions.${j}`, j, outputChannel, i));
    }
    const last = i === levels - 1;
    down.push({
      name,
      index: i,
      depth: i,
      resnets,
      attentions,
      downsample: last ? null : { name: `${name}.downsamplers.0`, channels: outputChannel, padding: config.downsamplePadding },
    });
  }

  const midChannels = channels[levels - 1]!;
  const mid: MidBlockSpec | null = config.midBlockCrossAttn
    ? {
        name: 'mid_block',
        depth: levels - 1,
        resnets: [0, 1].map((j) => ({ name: `mid_block.resnets.${j}`, inChannels: midChannels, outChannels: midChannels })),
        attentions: [transformer('mid_block.attentions.0', 0, midChannels, levels - 1)],
      }
    : null;

  // diffusers builds the up path from reversed lists: up block i runs at level levels-1-i.
  const up: UpBlockSpec[] = [];
  const reversed = [...channels].reverse();
  let outputUp = reversed[0]!;
  for (let i = 0; i < levels; i++) {
    const level = levels - 1 - i;
    const prevOutput = outputUp;
    outputUp = reversed[i]!;
    const inputChannel = reversed[Math.min(i + 1, levels - 1)]!;
    const name = `up_blocks.${i}`;
    const cross = config.upBlockTypes[i] === 'CrossAttnUpBlock2D';
    const count = layers + 1;
    const resnets: ResnetSpec[] = [];
    const attentions: TransformerSpec[] = [];
    for (let j = 0; j < count; j++) {
      const skip = j === count - 1 ? inputChannel : outputUp;
      const hidden = j === 0 ? prevOutput : outputUp;
      checkGroups(hidden + skip, `${name}.resnets.${j}`);
      resnets.push({ name: `${name}.resnets.${j}`, inChannels: hidden + skip, outChannels: outputUp });
      if (cross) attentions.push(transformer(`${name}.attentions.${j}`, j, outputUp, level));
    }
    up.push({
      name,
      index: i,
      depth: level,
      resnets,
      attentions,
      upsample: i === levels - 1 ? null : { name: `${name}.upsamplers.0`, channels: outputUp },
    });
  }

  const timeChannels = channels[0]!;
  checkGroups(timeChannels, 'conv_norm_out');
  return {
    inChannels: config.inChannels,
    outChannels: config.outChannels,
    timeChannels,
    timeEmbedDim: config.timeEmbeddingDim,
    flipSinToCos: config.flipSinToCos,
    freqShift: config.freqShift,
    groups,
    eps: config.normEps,
    convInKernel: 3,
    convOutKernel: 3,
    down,
    mid,
    up,
    downsamplers: levels - 1,
  };
}

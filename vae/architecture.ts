// The layout of diffusers' AutoencoderKL (Encoder/Decoder with DownEncoderBlock2D/UpDecoderBlock2D)
// derived once from its config: block channels and parameter names. The parameter list and the
// model both build from it, so names and wiring cannot drift apart.

import type { ResnetSpec } from '../unet/architecture.js';
import type { VaeConfig } from './config.js';

export type { ResnetSpec } from '../unet/architecture.js';

export interface ConvSpec {
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: 1 | 3;
}

/** UNetMidBlock2D of the VAE: resnet, (single-head self-attention), resnet. */
export interface VaeMidBlockSpec {
  readonly name: string;
  readonly channels: number;
  readonly resnets: readonly [ResnetSpec, ResnetSpec];
  /** Parameter prefix of the attention ('…mid_block.attentions.0'), or null without one. */
  readonly attention: string | null;
}

export interface EncoderBlockSpec {
  readonly name: string;
  readonly resnets: readonly ResnetSpec[];
  /** 3×3 stride-2 conv after padding (0, 1, 0, 1); absent on the last block. */
  readonly downsample: ConvSpec | null;
}

export interface DecoderBlockSpec {
  readonly name: string;
  readonly resnets: readonly ResnetSpec[];
  /** nearest 2× then 3×3 conv; absent on the last block. */
  readonly upsample: ConvSpec | null;
}

export interface EncoderSpec {
  readonly convIn: ConvSpec;
  readonly blocks: readonly EncoderBlockSpec[];
  readonly mid: VaeMidBlockSpec;
  readonly normOut: { readonly name: string; readonly channels: number };
  /** 2 × latent channels: mean and log-variance. */
  readonly convOut: ConvSpec;
}

export interface DecoderSpec {
  readonly convIn: ConvSpec;
  readonly mid: VaeMidBlockSpec;
  readonly blocks: readonly DecoderBlockSpec[];
  readonly normOut: { readonly name: string; readonly channels: number };
  readonly convOut: ConvSpec;
}

export interface VaeArchitecture {
  readonly encoder: EncoderSpec;
  readonly decoder: DecoderSpec;
  readonly quantConv: ConvSpec | null;
  readonly postQuantConv: ConvSpec | null;
  readonly groups: number;
  readonly eps: number;
  /** Image pixels per latent along each side: 2^(levels − 1), 8 for SD 1.5. */
  readonly scale: number;
}

function midBlock(side: string, channels: number, attention: boolean): VaeMidBlockSpec {
  const name = `${side}.mid_block`;
  const resnet = (j: number): ResnetSpec => ({ name: `${name}.resnets.${j}`, inChannels: channels, outChannels: channels });
  return { name, channels, resnets: [resnet(0), resnet(1)], attention: attention ? `${name}.attentions.0` : null };
}

export function vaeArchitecture(c: VaeConfig): VaeArchitecture {
  const ch = c.blockOutChannels;
  const levels = ch.length;
  if (levels === 0) throw new Error('VAE config: block_out_channels is empty');
  const last = ch[levels - 1]!;

  const encoderBlocks: EncoderBlockSpec[] = [];
  let input = ch[0]!;
  ch.forEach((out, i) => {
    const name = `encoder.down_blocks.${i}`;
    const resnets: ResnetSpec[] = [];
    for (let j = 0; j < c.layersPerBlock; j++) {
      resnets.push({ name: `${name}.resnets.${j}`, inChannels: j === 0 ? input : out, outChannels: out });
    }
    const downsample: ConvSpec | null =
      i < levels - 1 ? { name: `${name}.downsamplers.0.conv`, inChannels: out, outChannels: out, kernel: 3 } : null;
    encoderBlocks.push({ name, resnets, downsample });
    input = out;
  });

  const decoderBlocks: DecoderBlockSpec[] = [];
  const reversed = [...ch].reverse();
  input = reversed[0]!;
  reversed.forEach((out, i) => {
    const name = `decoder.up_blocks.${i}`;
    const resnets: ResnetSpec[] = [];
    for (let j = 0; j <= c.layersPerBlock; j++) {
      resnets.push({ name: `${name}.resnets.${j}`, inChannels: j === 0 ? input : out, outChannels: out });
    }
    const upsample: ConvSpec | null =
      i < levels - 1 ? { name: `${name}.upsamplers.0.conv`, inChannels: out, outChannels: out, kernel: 3 } : null;
    decoderBlocks.push({ name, resnets, upsample });
    input = out;
  });

  const latent = c.latentChannels;
  return {
    encoder: {
      convIn: { name: 'encoder.conv_in', inChannels: c.inChannels, outChannels: ch[0]!, kernel: 3 },
      blocks: encoderBlocks,
      mid: midBlock('encoder', last, c.midBlockAddAttention),
      normOut: { name: 'encoder.conv_norm_out', channels: last },
      convOut: { name: 'encoder.conv_out', inChannels: last, outChannels: 2 * latent, kernel: 3 },
    },
    decoder: {
      convIn: { name: 'decoder.conv_in', inChannels: latent, outChannels: last, kernel: 3 },
      mid: midBlock('decoder', last, c.midBlockAddAttention),
      blocks: decoderBlocks,
      normOut: { name: 'decoder.conv_norm_out', channels: ch[0]! },
      convOut: { name: 'decoder.conv_out', inChannels: ch[0]!, outChannels: c.outChannels, kernel: 3 },
    },
    quantConv: c.useQuantConv ? { name: 'quant_conv', inChannels: 2 * latent, outChannels: 2 * latent, kernel: 1 } : null,
    postQuantConv: c.usePostQuantConv ? { name: 'post_quant_conv', inChannels: latent, outChannels: latent, kernel: 1 } : null,
    groups: c.normNumGroups,
    eps: c.normEps,
    scale: 2 ** (levels - 1),
  };
}

// The original (CompVis LDM) U-Net names of single-file checkpoints, `model.diffusion_model.*`,
// mapped to diffusers' UNet2DConditionModel names. Generic over block count and layers per block.
//
// LDM numbers its blocks flat: input_blocks.0 is conv_in, then each down block contributes
// layers_per_block entries [resnet, attention?] and, except the last, one [downsampler]; output
// blocks give each up block layers_per_block + 1 entries [resnet, attention?, upsampler?]. Inside
// attention layers (SpatialTransformer) the names already match diffusers' Transformer2DModel.

import { countIndices } from '../runtime/weights.js';

export const LDM_UNET_PREFIX = 'model.diffusion_model.';

export interface LdmUNetLayout {
  readonly blocks: number;
  readonly layersPerBlock: number;
}

/** LDM ResBlock → diffusers ResnetBlock2D. */
const RESNET_PARTS: Readonly<Record<string, string>> = {
  'in_layers.0': 'norm1',
  'in_layers.2': 'conv1',
  'emb_layers.1': 'time_emb_proj',
  'out_layers.0': 'norm2',
  'out_layers.3': 'conv2',
  skip_connection: 'conv_shortcut',
};

const TOP_LEVEL: Readonly<Record<string, string>> = {
  'time_embed.0': 'time_embedding.linear_1',
  'time_embed.2': 'time_embedding.linear_2',
  'input_blocks.0.0': 'conv_in',
  'out.0': 'conv_norm_out',
  'out.2': 'conv_out',
};

/**
 * Reads the layout from the keys (prefix removed): blocks = downsamplers + 1, and the flat input
 * block count = blocks × (layers_per_block + 1), conv_in included, the last block's missing
 * downsampler making up for it.
 */
export function inferLdmUNetLayout(keys: readonly string[]): LdmUNetLayout {
  const inputs = countIndices(keys, /^input_blocks\.(\d+)\./);
  const downsamplers = new Set(keys.filter((k) => /^input_blocks\.\d+\.0\.op\./.test(k)).map((k) => k.split('.')[1])).size;
  const blocks = downsamplers + 1;
  const layersPerBlock = (inputs - 1 - downsamplers) / blocks;
  if (inputs < 2 || !Number.isInteger(layersPerBlock) || layersPerBlock < 1) {
    throw new Error(
      `not an LDM U-Net: ${inputs} input_blocks with ${downsamplers} downsamplers do not make whole blocks`,
    );
  }
  return { blocks, layersPerBlock };
}

/** One LDM U-Net key (prefix removed) → its diffusers name, or undefined if it has none. */
export function ldmUNetKeyToDiffusers(key: string, layout: LdmUNetLayout): string | undefined {
  for (const [from, to] of Object.entries(TOP_LEVEL)) {
    if (key.startsWith(from + '.')) return to + key.slice(from.length);
  }
  const per = layout.layersPerBlock + 1;
  let m = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const n = Number(m[1]) - 1;
    const part = Number(m[2]);
    const rest = m[3]!;
    const block = Math.floor(n / per);
    const layer = n % per;
    if (n < 0 || block >= layout.blocks) return undefined;
    const base = `down_blocks.${block}`;
    if (layer === layout.layersPerBlock) {
      return part === 0 && rest.startsWith('op.') ? `${base}.downsamplers.0.conv.${rest.slice(3)}` : undefined;
    }
    if (part === 0) return resnet(`${base}.resnets.${layer}`, rest);
    if (part === 1) return `${base}.attentions.${layer}.${rest}`;
    return undefined;
  }
  m = /^middle_block\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const rest = m[2]!;
    switch (m[1]) {
      case '0':
        return resnet('mid_block.resnets.0', rest);
      case '1':
        return `mid_block.attentions.0.${rest}`;
      case '2':
        return resnet('mid_block.resnets.1', rest);
      default:
        return undefined;
    }
  }
  m = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const n = Number(m[1]);
    const part = Number(m[2]);
    const rest = m[3]!;
    const block = Math.floor(n / per);
    const layer = n % per;
    if (block >= layout.blocks) return undefined;
    const base = `up_blocks.${block}`;
    if (part === 0) return resnet(`${base}.resnets.${layer}`, rest);
    // The upsampler follows the resnet (and attention, if any) of the block's last layer.
    if (rest.startsWith('conv.')) {
      return layer === layout.layersPerBlock && block < layout.blocks - 1 ? `${base}.upsamplers.0.${rest}` : undefined;
    }
    if (part === 1) return `${base}.attentions.${layer}.${rest}`;
    return undefined;
  }
  return undefined;
}

function resnet(base: string, rest: string): string | undefined {
  for (const [from, to] of Object.entries(RESNET_PARTS)) {
    if (rest.startsWith(from + '.')) return `${base}.${to}${rest.slice(from.length)}`;
  }
  return undefined;
}

/** The KeyMapping for a WeightSource over `model.diffusion_model.*` keys. */
export function ldmUNetMapping(layout: LdmUNetLayout): (key: string) => { name: string } | undefined {
  return (key) => {
    const name = ldmUNetKeyToDiffusers(key, layout);
    return name === undefined ? undefined : { name };
  };
}

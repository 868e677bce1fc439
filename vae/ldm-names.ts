// The original (CompVis LDM) autoencoder names of single-file checkpoints, `first_stage_model.*`,
// mapped to diffusers' AutoencoderKL names; also the older diffusers attention names some
// diffusers folders still store (SD 1.5's own vae/ among them).
//
// Two differences are more than renames:
//  - LDM numbers the decoder's up blocks from the lowest resolution's end (up.0 is the last to
//    run, full resolution); diffusers numbers them in execution order: up_blocks.i = up.(n-1-i).
//  - The mid-block attention's q, k, v and proj_out are 1×1 convs [C, C, 1, 1] in LDM and linear
//    layers [C, C] in diffusers; same values, so the mapping only changes the shape.

import { countIndices, type MappedKey } from '../runtime/weights.js';

export const LDM_VAE_PREFIX = 'first_stage_model.';

export interface LdmVaeLayout {
  /** Resolution levels (len(block_out_channels)). */
  readonly blocks: number;
}

const RESNET_PARTS: Readonly<Record<string, string>> = {
  norm1: 'norm1',
  conv1: 'conv1',
  norm2: 'norm2',
  conv2: 'conv2',
  nin_shortcut: 'conv_shortcut',
};

const ATTENTION_PARTS: Readonly<Record<string, string>> = {
  norm: 'group_norm',
  q: 'to_q',
  k: 'to_k',
  v: 'to_v',
  proj_out: 'to_out.0',
};

/** diffusers before 0.14 named the VAE attention query/key/value/proj_attn. */
const LEGACY_DIFFUSERS_ATTENTION: Readonly<Record<string, string>> = {
  query: 'to_q',
  key: 'to_k',
  value: 'to_v',
  proj_attn: 'to_out.0',
};

export function inferLdmVaeLayout(keys: readonly string[]): LdmVaeLayout {
  const blocks = countIndices(keys, /^encoder\.down\.(\d+)\./);
  if (blocks === 0) throw new Error('not an LDM autoencoder: no encoder.down.* weights');
  return { blocks };
}

/** One LDM VAE key (prefix removed) → its diffusers name and shape, or undefined if it has none. */
export function ldmVaeKeyToDiffusers(key: string, shape: readonly number[], layout: LdmVaeLayout): MappedKey | undefined {
  if (key.startsWith('quant_conv.') || key.startsWith('post_quant_conv.')) return { name: key };
  const m = /^(encoder|decoder)\.(.+)$/.exec(key);
  if (!m) return undefined;
  const side = m[1]!;
  const rest = m[2]!;
  const name = (inner: string | undefined): MappedKey | undefined => (inner === undefined ? undefined : { name: `${side}.${inner}` });

  for (const simple of ['conv_in.', 'conv_out.']) if (rest.startsWith(simple)) return { name: key };
  if (rest.startsWith('norm_out.')) return name(`conv_norm_out.${rest.slice('norm_out.'.length)}`);

  let b = /^mid\.block_([12])\.(.+)$/.exec(rest);
  if (b) return name(resnet(`mid_block.resnets.${Number(b[1]) - 1}`, b[2]!));

  b = /^mid\.attn_1\.([a-z_]+)\.(weight|bias)$/.exec(rest);
  if (b) {
    const part = ATTENTION_PARTS[b[1]!];
    if (!part) return undefined;
    const mapped: MappedKey = { name: `${side}.mid_block.attentions.0.${part}.${b[2]}` };
    return isPointwiseKernel(shape) ? { ...mapped, shape: [shape[0]!, shape[1]!] } : mapped;
  }

  if (side === 'encoder') {
    b = /^down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(rest);
    if (b) return name(resnet(`down_blocks.${b[1]}.resnets.${b[2]}`, b[3]!));
    b = /^down\.(\d+)\.downsample\.conv\.(.+)$/.exec(rest);
    if (b) return name(`down_blocks.${b[1]}.downsamplers.0.conv.${b[2]}`);
    return undefined;
  }
  b = /^up\.(\d+)\.(block\.(\d+)|upsample\.conv)\.(.+)$/.exec(rest);
  if (b) {
    const level = Number(b[1]);
    if (level >= layout.blocks) return undefined;
    const block = `up_blocks.${layout.blocks - 1 - level}`;
    return b[3] !== undefined ? name(resnet(`${block}.resnets.${b[3]}`, b[4]!)) : name(`${block}.upsamplers.0.conv.${b[4]}`);
  }
  return undefined;
}

function resnet(base: string, rest: string): string | undefined {
  const dot = rest.indexOf('.');
  const part = RESNET_PARTS[rest.slice(0, dot)];
  return dot < 0 || !part ? undefined : `${base}.${part}${rest.slice(dot)}`;
}

function isPointwiseKernel(shape: readonly number[]): boolean {
  return shape.length === 4 && shape[2] === 1 && shape[3] === 1;
}

/** The KeyMapping for a WeightSource over `first_stage_model.*` keys. */
export function ldmVaeMapping(layout: LdmVaeLayout): (key: string, shape: readonly number[]) => MappedKey | undefined {
  return (key, shape) => ldmVaeKeyToDiffusers(key, shape, layout);
}

/**
 * The KeyMapping for a diffusers vae/ folder: current names pass through; the legacy attention
 * names (query/key/value/proj_attn) become to_q/to_k/to_v/to_out.0, as diffusers does on load,
 * and a conv-shaped [C, C, 1, 1] attention weight becomes [C, C].
 */
export function diffusersVaeMapping(key: string, shape: readonly number[]): MappedKey {
  const m = /^(encoder|decoder)\.mid_block\.attentions\.(\d+)\.([a-z_]+(?:\.0)?)\.(weight|bias)$/.exec(key);
  if (!m) return { name: key };
  const part = LEGACY_DIFFUSERS_ATTENTION[m[3]!] ?? m[3]!;
  const name = `${m[1]}.mid_block.attentions.${m[2]}.${part}.${m[4]}`;
  return isPointwiseKernel(shape) ? { name, shape: [shape[0]!, shape[1]!] } : { name };
}

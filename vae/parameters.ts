// Every parameter of the VAE by its diffusers name with its shape, as loaders validate checkpoints.

import { vaeArchitecture, type ConvSpec, type ResnetSpec, type VaeArchitecture, type VaeMidBlockSpec } from './architecture.js';
import type { VaeConfig } from './config.js';

type Shapes = Map<string, number[]>;

function affine(into: Shapes, name: string, channels: number): void {
  into.set(`${name}.weight`, [channels]);
  into.set(`${name}.bias`, [channels]);
}

function conv(into: Shapes, c: ConvSpec): void {
  into.set(`${c.name}.weight`, [c.outChannels, c.inChannels, c.kernel, c.kernel]);
  into.set(`${c.name}.bias`, [c.outChannels]);
}

function resnet(into: Shapes, r: ResnetSpec): void {
  affine(into, `${r.name}.norm1`, r.inChannels);
  conv(into, { name: `${r.name}.conv1`, inChannels: r.inChannels, outChannels: r.outChannels, kernel: 3 });
  affine(into, `${r.name}.norm2`, r.outChannels);
  conv(into, { name: `${r.name}.conv2`, inChannels: r.outChannels, outChannels: r.outChannels, kernel: 3 });
  if (r.inChannels !== r.outChannels) {
    conv(into, { name: `${r.name}.conv_shortcut`, inChannels: r.inChannels, outChannels: r.outChannels, kernel: 1 });
  }
}

function midBlock(into: Shapes, m: VaeMidBlockSpec): void {
  resnet(into, m.resnets[0]);
  if (m.attention) {
    const c = m.channels;
    affine(into, `${m.attention}.group_norm`, c);
    for (const proj of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
      into.set(`${m.attention}.${proj}.weight`, [c, c]);
      into.set(`${m.attention}.${proj}.bias`, [c]);
    }
  }
  resnet(into, m.resnets[1]);
}

/** Which halves of the autoencoder a model holds: text-to-image needs only the decoder. */
export type VaeParts = 'all' | 'decoder' | 'encoder';

export function architectureParameterShapes(a: VaeArchitecture, parts: VaeParts = 'all'): Map<string, number[]> {
  const s: Shapes = new Map();
  if (parts !== 'decoder') encoderShapes(s, a);
  if (parts !== 'encoder') decoderShapes(s, a);
  return s;
}

function encoderShapes(s: Shapes, a: VaeArchitecture): void {
  const e = a.encoder;
  conv(s, e.convIn);
  for (const b of e.blocks) {
    for (const r of b.resnets) resnet(s, r);
    if (b.downsample) conv(s, b.downsample);
  }
  midBlock(s, e.mid);
  affine(s, e.normOut.name, e.normOut.channels);
  conv(s, e.convOut);
  if (a.quantConv) conv(s, a.quantConv);
}

function decoderShapes(s: Shapes, a: VaeArchitecture): void {
  if (a.postQuantConv) conv(s, a.postQuantConv);
  const d = a.decoder;
  conv(s, d.convIn);
  midBlock(s, d.mid);
  for (const b of d.blocks) {
    for (const r of b.resnets) resnet(s, r);
    if (b.upsample) conv(s, b.upsample);
  }
  affine(s, d.normOut.name, d.normOut.channels);
  conv(s, d.convOut);
}

/**
 * diffusers names → shapes of the AutoencoderKL parameters for this config (attention projections
 * as [C, C]): all of them, or only the decoder's (with post_quant_conv) or the encoder's (with quant_conv).
 */
export function vaeParameterShapes(config: VaeConfig, parts: VaeParts = 'all'): Map<string, number[]> {
  return architectureParameterShapes(vaeArchitecture(config), parts);
}

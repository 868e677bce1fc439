// Every parameter of the U-Net by its diffusers name with its shape, as loaders validate checkpoints.

import { unetArchitecture, type ResnetSpec, type TransformerSpec, type UNetArchitecture } from './architecture.js';
import type { UNetConfig } from './config.js';

type Shapes = Map<string, number[]>;

function affine(into: Shapes, name: string, channels: number): void {
  into.set(`${name}.weight`, [channels]);
  into.set(`${name}.bias`, [channels]);
}

function dense(into: Shapes, name: string, out: number, inp: number, bias = true): void {
  into.set(`${name}.weight`, [out, inp]);
  if (bias) into.set(`${name}.bias`, [out]);
}

function conv(into: Shapes, name: string, out: number, inp: number, k: number): void {
  into.set(`${name}.weight`, [out, inp, k, k]);
  into.set(`${name}.bias`, [out]);
}

/** Feed-forward inner width of BasicTransformerBlock (ff_mult 4), before GEGLU doubles it. */
export function feedForwardInner(channels: number): number {
  return channels * 4;
}

function resnetShapes(into: Shapes, r: ResnetSpec, timeEmbedDim: number): void {
  affine(into, `${r.name}.norm1`, r.inChannels);
  conv(into, `${r.name}.conv1`, r.outChannels, r.inChannels, 3);
  dense(into, `${r.name}.time_emb_proj`, r.outChannels, timeEmbedDim);
  affine(into, `${r.name}.norm2`, r.outChannels);
  conv(into, `${r.name}.conv2`, r.outChannels, r.outChannels, 3);
  if (r.inChannels !== r.outChannels) conv(into, `${r.name}.conv_shortcut`, r.outChannels, r.inChannels, 1);
}

function transformerShapes(into: Shapes, t: TransformerSpec): void {
  const c = t.channels;
  affine(into, `${t.name}.norm`, c);
  const projection = (name: string) => (t.linearProjection ? dense(into, name, c, c) : conv(into, name, c, c, 1));
  projection(`${t.name}.proj_in`);
  for (let j = 0; j < t.layers; j++) {
    const b = `${t.name}.transformer_blocks.${j}`;
    for (const n of ['norm1', 'norm2', 'norm3']) affine(into, `${b}.${n}`, c);
    for (const [attn, kvDim] of [['attn1', c], ['attn2', t.contextDim]] as const) {
      dense(into, `${b}.${attn}.to_q`, c, c, false);
      dense(into, `${b}.${attn}.to_k`, c, kvDim, false);
      dense(into, `${b}.${attn}.to_v`, c, kvDim, false);
      dense(into, `${b}.${attn}.to_out.0`, c, c);
    }
    const inner = feedForwardInner(c);
    dense(into, `${b}.ff.net.0.proj`, 2 * inner, c);
    dense(into, `${b}.ff.net.2`, c, inner);
  }
  projection(`${t.name}.proj_out`);
}

export function architectureParameterShapes(a: UNetArchitecture): Map<string, number[]> {
  const s: Shapes = new Map();
  const c0 = a.down[0]!.resnets[0]!.inChannels;
  conv(s, 'conv_in', c0, a.inChannels, a.convInKernel);
  dense(s, 'time_embedding.linear_1', a.timeEmbedDim, a.timeChannels);
  dense(s, 'time_embedding.linear_2', a.timeEmbedDim, a.timeEmbedDim);
  for (const d of a.down) {
    d.resnets.forEach((r, j) => {
      resnetShapes(s, r, a.timeEmbedDim);
      const t = d.attentions[j];
      if (t) transformerShapes(s, t);
    });
    if (d.downsample) conv(s, `${d.downsample.name}.conv`, d.downsample.channels, d.downsample.channels, 3);
  }
  if (a.mid) {
    const mid = a.mid;
    resnetShapes(s, mid.resnets[0]!, a.timeEmbedDim);
    mid.attentions.forEach((t, j) => {
      transformerShapes(s, t);
      resnetShapes(s, mid.resnets[j + 1]!, a.timeEmbedDim);
    });
  }
  for (const u of a.up) {
    u.resnets.forEach((r, j) => {
      resnetShapes(s, r, a.timeEmbedDim);
      const t = u.attentions[j];
      if (t) transformerShapes(s, t);
    });
    if (u.upsample) conv(s, `${u.upsample.name}.conv`, u.upsample.channels, u.upsample.channels, 3);
  }
  affine(s, 'conv_norm_out', c0);
  conv(s, 'conv_out', a.outChannels, c0, a.convOutKernel);
  return s;
}

/** Diffusers parameter names of UNet2DConditionModel mapped to their shapes. */
export function unetParameterShapes(config: UNetConfig): Map<string, number[]> {
  return architectureParameterShapes(unetArchitecture(config));
}

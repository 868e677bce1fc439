// Floating-point operations of one U-Net evaluation, counted from the architecture: every conv,
// linear layer and attention product (2 FLOPs per multiply-add). Norms, activations, adds and
// layout changes are left out (they are memory-bound and a small share), so this is the usual
// "model FLOPs" figure that achieved TFLOP/s is quoted against. Token merging runs fewer FLOPs
// than this dense count; a TFLOP/s from it is then an effective rate.

import type { UNetConfig } from './config.js';
import { unetArchitecture, type ResnetSpec, type TransformerSpec } from './architecture.js';
import { feedForwardInner } from './parameters.js';

export interface UNetFlopsInput {
  /** U-Net batch (2 per image under classifier-free guidance). */
  readonly batch: number;
  readonly latentHeight: number;
  readonly latentWidth: number;
  /** Cross-attention context length (77 for CLIP). */
  readonly contextTokens: number;
}

export interface UNetFlops {
  readonly total: number;
  /** Convolutions (3×3, 1×1 shortcuts, down/upsampler convs, conv_in/out, 1×1 proj_in/out). */
  readonly conv: number;
  /** Linear layers: attention projections, feed-forward, time embedding and per-resnet time projections. */
  readonly linear: number;
  /** The two attention products (QKᵀ and PV) of self- and cross-attention. */
  readonly attention: number;
}

export function unetFlops(config: UNetConfig, input: UNetFlopsInput): UNetFlops {
  const a = unetArchitecture(config);
  const { batch: B, latentHeight, latentWidth, contextTokens: L } = input;
  const size = (depth: number): [number, number] => [Math.ceil(latentHeight / 2 ** depth), Math.ceil(latentWidth / 2 ** depth)];
  let conv = 0;
  let linear = 0;
  let attention = 0;

  const convFlops = (cin: number, cout: number, k: number, h: number, w: number) => 2 * B * h * w * cout * cin * k * k;
  const resnet = (r: ResnetSpec, depth: number) => {
    const [h, w] = size(depth);
    conv += convFlops(r.inChannels, r.outChannels, 3, h, w) + convFlops(r.outChannels, r.outChannels, 3, h, w);
    if (r.inChannels !== r.outChannels) conv += convFlops(r.inChannels, r.outChannels, 1, h, w);
    linear += 2 * B * a.timeEmbedDim * r.outChannels;
  };
  const transformer = (t: TransformerSpec, depth: number) => {
    const [h, w] = size(depth);
    const N = h * w;
    const C = t.channels;
    const inner = feedForwardInner(C);
    conv += 2 * convFlops(C, C, 1, h, w); // proj_in, proj_out (linear or 1×1 conv: the same work)
    for (let j = 0; j < t.layers; j++) {
      linear += 2 * B * N * C * C * 4; // attn1 q, k, v, out
      attention += 2 * (2 * B * N * N * C); // attn1 QKᵀ and PV over all heads
      linear += 2 * B * N * C * C * 2 + 2 * (2 * B * L * t.contextDim * C); // attn2 q, out; k, v from the context
      attention += 2 * (2 * B * N * L * C);
      linear += 2 * B * N * C * (2 * inner) + 2 * B * N * inner * C; // GEGLU in (doubled width), out
    }
  };

  linear += 2 * B * (a.timeChannels * a.timeEmbedDim + a.timeEmbedDim * a.timeEmbedDim);
  const [h0, w0] = size(0);
  const first = a.down[0]?.resnets[0]?.inChannels ?? a.timeChannels;
  conv += convFlops(a.inChannels, first, a.convInKernel, h0, w0);
  for (const d of a.down) {
    d.resnets.forEach((r, j) => {
      resnet(r, d.depth);
      const t = d.attentions[j];
      if (t) transformer(t, d.depth);
    });
    if (d.downsample) {
      const [h, w] = size(d.depth + 1);
      conv += convFlops(d.downsample.channels, d.downsample.channels, 3, h, w);
    }
  }
  if (a.mid) {
    resnet(a.mid.resnets[0]!, a.mid.depth);
    for (const t of a.mid.attentions) transformer(t, a.mid.depth);
    for (const r of a.mid.resnets.slice(1)) resnet(r, a.mid.depth);
  }
  for (const u of a.up) {
    u.resnets.forEach((r, j) => {
      resnet(r, u.depth);
      const t = u.attentions[j];
      if (t) transformer(t, u.depth);
    });
    if (u.upsample) {
      const [h, w] = size(u.depth - 1);
      conv += convFlops(u.upsample.channels, u.upsample.channels, 3, h, w);
    }
  }
  conv += convFlops(a.timeChannels, a.outChannels, a.convOutKernel, h0, w0);
  return { total: conv + linear + attention, conv, linear, attention };
}

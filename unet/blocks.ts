// The U-Net's down, mid and up blocks (CrossAttn/plain variants differ only in having attentions),
// with their stride-2 conv downsampler and nearest-2× + conv upsampler.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { conv2d } from '../kernels/conv2d.js';
import { upsampleNearest } from '../kernels/resample.js';
import { concatChannels } from '../kernels/concat.js';
import type { DownBlockSpec, MidBlockSpec, TransformerSpec, UpBlockSpec } from './architecture.js';
import type { UNetStage } from './hooks.js';
import { ResnetBlock } from './resnet.js';
import { Transformer2D, type BlockPlanner, type BlockSite } from './transformer2d.js';
import type { UNetWeights } from './weights.js';

/** What every block needs besides its input. */
export interface BlockInputs {
  /** SiLU(time embedding) [B, T]. */
  readonly embSilu: Tensor;
  /** encoder_hidden_states [B, L, D]. */
  readonly context: Tensor;
  readonly planner: BlockPlanner | null;
}

/** Shared construction state: weights, norm settings, and the running transformer-block ordinal. */
export interface BlockBuilder {
  readonly rt: Runtime;
  readonly weights: UNetWeights;
  readonly groups: number;
  readonly eps: number;
  ordinal: number;
}

function resnets(b: BlockBuilder, specs: DownBlockSpec['resnets']): ResnetBlock[] {
  return specs.map((r) => new ResnetBlock(b.rt, r, b.weights, b.groups, b.eps));
}

function transformers(b: BlockBuilder, specs: readonly TransformerSpec[], stage: UNetStage, blockIndex: number, depth: number): Transformer2D[] {
  return specs.map((t) => {
    const tr = new Transformer2D(b.rt, t, { stage, blockIndex, depth, firstOrdinal: b.ordinal }, b.weights, b.groups);
    b.ordinal += t.layers;
    return tr;
  });
}

function sitesOf(ts: readonly Transformer2D[]): BlockSite[] {
  return ts.flatMap((t) => t.sites);
}

export class DownBlock {
  private readonly resnets: ResnetBlock[];
  private readonly attentions: Transformer2D[];
  private readonly downsampler: { readonly weight: Tensor; readonly bias: Tensor; readonly padding: number | [number, number, number, number] } | null;

  constructor(
    private readonly rt: Runtime,
    readonly spec: DownBlockSpec,
    b: BlockBuilder,
  ) {
    this.resnets = resnets(b, spec.resnets);
    this.attentions = transformers(b, spec.attentions, 'down', spec.index, spec.depth);
    const d = spec.downsample;
    this.downsampler = d
      ? {
          weight: b.weights.get(`${d.name}.conv.weight`),
          bias: b.weights.get(`${d.name}.conv.bias`),
          // diffusers' Downsample2D with padding 0 pads only right and bottom
          padding: d.padding === 0 ? [0, 1, 0, 1] : d.padding,
        }
      : null;
  }

  get sites(): BlockSite[] {
    return sitesOf(this.attentions);
  }

  /** Returns the block output and the skip tensors it adds (each resnet/attention output, then the downsampled one). */
  forward(x: Tensor, inputs: BlockInputs): { out: Tensor; skips: Tensor[] } {
    const rt = this.rt;
    return rt.tidy(() => {
      const skips: Tensor[] = [];
      let h = x;
      this.resnets.forEach((resnet, j) => {
        h = resnet.forward(h, inputs.embSilu);
        const attn = this.attentions[j];
        if (attn) {
          const a = attn.forward(h, inputs.context, inputs.planner);
          h.dispose();
          h = a;
        }
        skips.push(h);
      });
      if (this.downsampler) {
        const d = this.downsampler;
        h = conv2d(rt, h, d.weight, { stride: 2, padding: d.padding, bias: d.bias });
        skips.push(h);
      }
      return { out: h, skips };
    });
  }
}

export class MidBlock {
  private readonly resnets: ResnetBlock[];
  private readonly attentions: Transformer2D[];

  constructor(
    private readonly rt: Runtime,
    readonly spec: MidBlockSpec,
    b: BlockBuilder,
  ) {
    this.resnets = resnets(b, spec.resnets);
    this.attentions = transformers(b, spec.attentions, 'mid', 0, spec.depth);
  }

  get sites(): BlockSite[] {
    return sitesOf(this.attentions);
  }

  forward(x: Tensor, inputs: BlockInputs): Tensor {
    const rt = this.rt;
    return rt.tidy(() => {
      let h = this.resnets[0]!.forward(x, inputs.embSilu);
      this.attentions.forEach((attn, j) => {
        const a = attn.forward(h, inputs.context, inputs.planner);
        h.dispose();
        const r = this.resnets[j + 1]!.forward(a, inputs.embSilu);
        a.dispose();
        h = r;
      });
      return h;
    });
  }
}

export class UpBlock {
  private readonly resnets: ResnetBlock[];
  private readonly attentions: Transformer2D[];
  private readonly upsampler: { readonly weight: Tensor; readonly bias: Tensor } | null;

  constructor(
    private readonly rt: Runtime,
    readonly spec: UpBlockSpec,
    b: BlockBuilder,
  ) {
    this.resnets = resnets(b, spec.resnets);
    this.attentions = transformers(b, spec.attentions, 'up', spec.index, spec.depth);
    const u = spec.upsample;
    this.upsampler = u ? { weight: b.weights.get(`${u.name}.conv.weight`), bias: b.weights.get(`${u.name}.conv.bias`) } : null;
  }

  get sites(): BlockSite[] {
    return sitesOf(this.attentions);
  }

  /** Number of skip tensors the block consumes. */
  get skipCount(): number {
    return this.resnets.length;
  }

  /**
   * skips: this block's skip tensors in the order the down path produced them (the block takes them
   * from the last); each is disposed once concatenated. nextSkip: the skip the following block
   * starts with, whose size the upsampler must reach.
   */
  forward(x: Tensor, skips: Tensor[], inputs: BlockInputs, nextSkip: Tensor | null): Tensor {
    const rt = this.rt;
    if (skips.length !== this.resnets.length) throw new Error(`${this.spec.name}: ${skips.length} skip tensors for ${this.resnets.length} resnets`);
    return rt.tidy(() => {
      let h = x;
      this.resnets.forEach((resnet, j) => {
        const skip = skips[skips.length - 1 - j]!;
        if (skip.shape[2] !== h.shape[2] || skip.shape[3] !== h.shape[3]) {
          throw new Error(`${this.spec.name}: skip ${formatShape(skip.shape)} does not match the hidden states ${formatShape(h.shape)}`);
        }
        const joined = concatChannels(rt, h, skip);
        if (h !== x) h.dispose();
        skip.dispose();
        h = resnet.forward(joined, inputs.embSilu);
        joined.dispose();
        const attn = this.attentions[j];
        if (attn) {
          const a = attn.forward(h, inputs.context, inputs.planner);
          h.dispose();
          h = a;
        }
      });
      if (this.upsampler) {
        const [, , hh, ww] = h.shape as [number, number, number, number];
        // Like diffusers' forward_upsample_size: when the latent sides are not multiples of 8 the
        // stride-2 convs rounded up, so upsample to the skip's size rather than exactly 2×.
        const up = nextSkip ? upsampleNearest(rt, h, nextSkip.shape[2]!, nextSkip.shape[3]!) : upsampleNearest(rt, h, 2 * hh, 2 * ww);
        h.dispose();
        h = conv2d(rt, up, this.upsampler.weight, { padding: 1, bias: this.upsampler.bias });
      }
      return h;
    });
  }
}

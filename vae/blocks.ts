// The VAE's blocks: DownEncoderBlock2D (resnets, then a stride-2 conv after padding right and
// bottom by one), UpDecoderBlock2D (resnets, then nearest 2× and a conv) and UNetMidBlock2D
// (resnet, attention, resnet). The resnets are the U-Net's ResnetBlock without time embedding.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { conv2d } from '../kernels/conv2d.js';
import { upsampleNearest2x } from '../kernels/resample.js';
import { ResnetBlock } from '../unet/resnet.js';
import type { DecoderBlockSpec, EncoderBlockSpec, ResnetSpec, VaeMidBlockSpec } from './architecture.js';
import { VaeAttention } from './attention.js';
import type { VaeWeights } from './weights.js';

export interface VaeBlockBuilder {
  readonly rt: Runtime;
  readonly weights: VaeWeights;
  readonly groups: number;
  readonly eps: number;
}

function resnets(b: VaeBlockBuilder, specs: readonly ResnetSpec[]): ResnetBlock[] {
  return specs.map((r) => new ResnetBlock(b.rt, r, b.weights, b.groups, b.eps, { timeEmbedding: false }));
}

/** Runs the resnets in turn, freeing each intermediate (never the caller's input). */
function runResnets(blocks: readonly ResnetBlock[], x: Tensor): Tensor {
  let h = x;
  for (const r of blocks) {
    const next = r.forward(h);
    if (h !== x) h.dispose();
    h = next;
  }
  return h;
}

export class VaeMidBlock {
  private readonly resnets: ResnetBlock[];
  private readonly attention: VaeAttention | null;

  constructor(
    b: VaeBlockBuilder,
    readonly spec: VaeMidBlockSpec,
  ) {
    this.resnets = resnets(b, spec.resnets);
    this.attention = spec.attention ? new VaeAttention(b.rt, spec.attention, spec.channels, b.weights, b.groups, b.eps) : null;
  }

  forward(x: Tensor): Tensor {
    const h0 = this.resnets[0]!.forward(x);
    let h = h0;
    if (this.attention) {
      h = this.attention.forward(h0);
      h0.dispose();
    }
    const out = this.resnets[1]!.forward(h);
    h.dispose();
    return out;
  }
}

export class EncoderBlock {
  private readonly resnets: ResnetBlock[];
  private readonly downsample: readonly [Tensor, Tensor] | null;

  constructor(
    private readonly rt: Runtime,
    b: VaeBlockBuilder,
    readonly spec: EncoderBlockSpec,
  ) {
    this.resnets = resnets(b, spec.resnets);
    this.downsample = spec.downsample ? b.weights.pair(spec.downsample.name) : null;
  }

  forward(x: Tensor): Tensor {
    const h = runResnets(this.resnets, x);
    if (!this.downsample) return h;
    // diffusers' Downsample2D with padding 0 pads (0, 1, 0, 1): one zero column right, one row below
    const out = conv2d(this.rt, h, this.downsample[0], { stride: 2, padding: [0, 1, 0, 1], bias: this.downsample[1] });
    if (h !== x) h.dispose();
    return out;
  }
}

export class DecoderBlock {
  private readonly resnets: ResnetBlock[];
  private readonly upsample: readonly [Tensor, Tensor] | null;

  constructor(
    private readonly rt: Runtime,
    b: VaeBlockBuilder,
    readonly spec: DecoderBlockSpec,
  ) {
    this.resnets = resnets(b, spec.resnets);
    this.upsample = spec.upsample ? b.weights.pair(spec.upsample.name) : null;
  }

  forward(x: Tensor): Tensor {
    const h = runResnets(this.resnets, x);
    if (!this.upsample) return h;
    const up = upsampleNearest2x(this.rt, h);
    if (h !== x) h.dispose();
    const out = conv2d(this.rt, up, this.upsample[0], { padding: 1, bias: this.upsample[1] });
    up.dispose();
    return out;
  }
}

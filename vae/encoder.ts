// diffusers' Encoder: conv_in → down blocks → mid block → GroupNorm + SiLU (→ conv_out).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { conv2d } from '../kernels/conv2d.js';
import { groupNorm } from '../kernels/norm.js';
import type { EncoderSpec } from './architecture.js';
import { EncoderBlock, VaeMidBlock, type VaeBlockBuilder } from './blocks.js';
import type { VaeCapture } from './decoder.js';

export class Encoder {
  private readonly convIn: readonly [Tensor, Tensor];
  private readonly blocks: readonly EncoderBlock[];
  private readonly mid: VaeMidBlock;
  private readonly normOut: readonly [Tensor, Tensor];
  private readonly convOut: readonly [Tensor, Tensor];

  constructor(
    private readonly b: VaeBlockBuilder,
    readonly spec: EncoderSpec,
  ) {
    const w = b.weights;
    this.convIn = w.pair(spec.convIn.name);
    this.blocks = spec.blocks.map((s) => new EncoderBlock(b.rt, b, s));
    this.mid = new VaeMidBlock(b, spec.mid);
    this.normOut = w.pair(spec.normOut.name);
    this.convOut = w.pair(spec.convOut.name);
  }

  /**
   * x: [B, in, H, W] in the model dtype → conv_out's [B, 2·latent, H/scale, W/scale], or with
   * `beforeConvOut` the activations conv_out reads (after GroupNorm + SiLU).
   */
  forward(x: Tensor, capture?: VaeCapture, beforeConvOut = false): Tensor {
    const rt: Runtime = this.b.rt;
    if (x.rank !== 4 || x.shape[1] !== this.spec.convIn.inChannels) {
      throw new Error(`VAE encoder: input ${formatShape(x.shape)}, expected [B, ${this.spec.convIn.inChannels}, H, W]`);
    }
    return rt.tidy(() => {
      let h = conv2d(rt, x, this.convIn[0], { padding: 1, bias: this.convIn[1] });
      capture?.('encoder.conv_in', h);
      const step = (next: Tensor, name: string) => {
        if (next !== h) h.dispose();
        h = next;
        capture?.(name, h);
      };
      for (const block of this.blocks) step(block.forward(h), block.spec.name);
      step(this.mid.forward(h), 'encoder.mid_block');
      const normed = groupNorm(rt, h, this.normOut[0], this.normOut[1], { groups: this.b.groups, eps: this.b.eps, silu: true });
      h.dispose();
      if (beforeConvOut) return normed;
      const out = conv2d(rt, normed, this.convOut[0], { padding: 1, bias: this.convOut[1] });
      capture?.('encoder.conv_out', out);
      return out;
    });
  }
}

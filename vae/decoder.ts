// diffusers' Decoder: conv_in → mid block → up blocks → GroupNorm + SiLU → conv_out.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { conv2d } from '../kernels/conv2d.js';
import { groupNorm } from '../kernels/norm.js';
import type { DecoderSpec } from './architecture.js';
import { DecoderBlock, VaeMidBlock, type VaeBlockBuilder } from './blocks.js';

/** Sees intermediate activations by diffusers module name; the tensor is valid only during the call. */
export type VaeCapture = (name: string, t: Tensor) => void;

export class Decoder {
  private readonly convIn: readonly [Tensor, Tensor];
  private readonly mid: VaeMidBlock;
  private readonly blocks: readonly DecoderBlock[];
  private readonly normOut: readonly [Tensor, Tensor];
  private readonly convOut: readonly [Tensor, Tensor];

  constructor(
    private readonly b: VaeBlockBuilder,
    readonly spec: DecoderSpec,
  ) {
    const w = b.weights;
    this.convIn = w.pair(spec.convIn.name);
    this.mid = new VaeMidBlock(b, spec.mid);
    this.blocks = spec.blocks.map((s) => new DecoderBlock(b.rt, b, s));
    this.normOut = w.pair(spec.normOut.name);
    this.convOut = w.pair(spec.convOut.name);
  }

  /** z: [B, latent, h, w] in the model dtype (after post_quant_conv) → [B, out, h·scale, w·scale]. */
  forward(z: Tensor, capture?: VaeCapture): Tensor {
    const rt: Runtime = this.b.rt;
    if (z.rank !== 4 || z.shape[1] !== this.spec.convIn.inChannels) {
      throw new Error(`VAE decoder: input ${formatShape(z.shape)}, expected [B, ${this.spec.convIn.inChannels}, h, w]`);
    }
    return rt.tidy(() => {
      let h = conv2d(rt, z, this.convIn[0], { padding: 1, bias: this.convIn[1] });
      capture?.('decoder.conv_in', h);
      const step = (next: Tensor, name: string) => {
        if (next !== h) h.dispose();
        h = next;
        capture?.(name, h);
      };
      step(this.mid.forward(h), 'decoder.mid_block');
      for (const block of this.blocks) step(block.forward(h), block.spec.name);
      const normed = groupNorm(rt, h, this.normOut[0], this.normOut[1], { groups: this.b.groups, eps: this.b.eps, silu: true });
      h.dispose();
      return conv2d(rt, normed, this.convOut[0], { padding: 1, bias: this.convOut[1] });
    });
  }
}

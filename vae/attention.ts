// The VAE mid block's self-attention (diffusers Attention with residual_connection, one head as
// wide as the channels): GroupNorm → q, k, v projections of the H·W tokens → softmax attention →
// to_out.0 → + input.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { groupNorm } from '../kernels/norm.js';
import { linear } from '../kernels/matmul.js';
import { attention } from '../kernels/attention.js';
import { conv2d } from '../kernels/conv2d.js';
import { nchwToTokens, tokensToNchw } from '../kernels/layout.js';
import type { VaeWeights } from './weights.js';

export class VaeAttention {
  private readonly norm: readonly [Tensor, Tensor];
  private readonly q: readonly [Tensor, Tensor];
  private readonly k: readonly [Tensor, Tensor];
  private readonly v: readonly [Tensor, Tensor];
  /** to_out.0 as a 1×1 conv kernel [C, C, 1, 1] (a view of the [C, C] weight). */
  private readonly out: readonly [Tensor, Tensor];

  constructor(
    private readonly rt: Runtime,
    readonly name: string,
    readonly channels: number,
    w: VaeWeights,
    private readonly groups: number,
    private readonly eps: number,
  ) {
    this.norm = w.pair(`${name}.group_norm`);
    this.q = w.pair(`${name}.to_q`);
    this.k = w.pair(`${name}.to_k`);
    this.v = w.pair(`${name}.to_v`);
    const [ow, ob] = w.pair(`${name}.to_out.0`);
    this.out = [ow.reshape([channels, channels, 1, 1]), ob];
  }

  /** x: [B, C, H, W] → [B, C, H, W]. */
  forward(x: Tensor): Tensor {
    const rt = this.rt;
    const [, c, h, w] = x.shape as [number, number, number, number];
    if (x.rank !== 4 || c !== this.channels) throw new Error(`${this.name}: input ${formatShape(x.shape)}, expected [B, ${this.channels}, H, W]`);
    return rt.tidy(() => {
      const normed = groupNorm(rt, x, this.norm[0], this.norm[1], { groups: this.groups, eps: this.eps });
      const tokens = nchwToTokens(rt, normed);
      normed.dispose();
      const q = linear(rt, tokens, this.q[0], { bias: this.q[1] });
      const k = linear(rt, tokens, this.k[0], { bias: this.k[1] });
      const v = linear(rt, tokens, this.v[0], { bias: this.v[1] });
      tokens.dispose();
      const attended = attention(rt, q, k, v, { heads: 1 });
      q.dispose();
      k.dispose();
      v.dispose();
      // to_out.0 on the tokens then back to NCHW equals a 1×1 conv of the NCHW attention output,
      // which also fuses the residual add.
      const grid = tokensToNchw(rt, attended, h, w);
      attended.dispose();
      return conv2d(rt, grid, this.out[0], { bias: this.out[1], residual: x });
    });
  }
}

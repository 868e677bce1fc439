// ResnetBlock2D (diffusers, time_embedding_norm 'default', output_scale_factor 1); the VAE uses it
// without the time-embedding projection (temb_channels None).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { conv2d } from '../kernels/conv2d.js';
import { groupNorm } from '../kernels/norm.js';
import { linear } from '../kernels/matmul.js';
import { add } from '../kernels/binary.js';
import { formatShape } from '../runtime/dtype.js';
import type { ResnetSpec } from './architecture.js';

/** Parameters by diffusers name (UNetWeights, or any model's loaded map). */
export interface ParameterLookup {
  get(name: string): Tensor;
}

export interface ResnetOptions {
  /** Whether the block adds a projected time embedding (time_emb_proj); default true (U-Net). */
  readonly timeEmbedding?: boolean;
}

export class ResnetBlock {
  private readonly norm1: [Tensor, Tensor];
  private readonly conv1: [Tensor, Tensor];
  private readonly timeProj: [Tensor, Tensor] | null;
  private readonly norm2: [Tensor, Tensor];
  private readonly conv2: [Tensor, Tensor];
  private readonly shortcut: [Tensor, Tensor] | null;

  constructor(
    private readonly rt: Runtime,
    readonly spec: ResnetSpec,
    w: ParameterLookup,
    private readonly groups: number,
    private readonly eps: number,
    options: ResnetOptions = {},
  ) {
    const p = (suffix: string): [Tensor, Tensor] => [w.get(`${spec.name}.${suffix}.weight`), w.get(`${spec.name}.${suffix}.bias`)];
    this.norm1 = p('norm1');
    this.conv1 = p('conv1');
    this.timeProj = options.timeEmbedding === false ? null : p('time_emb_proj');
    this.norm2 = p('norm2');
    this.conv2 = p('conv2');
    this.shortcut = spec.inChannels !== spec.outChannels ? p('conv_shortcut') : null;
  }

  /**
   * x: [B, Cin, H, W]; embSilu: SiLU of the time embedding [B, T] (shared by every resnet, so the
   * U-Net computes it once), absent for a block without time embedding. → [B, Cout, H, W].
   */
  forward(x: Tensor, embSilu?: Tensor): Tensor {
    const rt = this.rt;
    const [, c, h, wd] = x.shape as [number, number, number, number];
    if (x.rank !== 4 || c !== this.spec.inChannels) {
      throw new Error(`${this.spec.name}: input ${formatShape(x.shape)}, expected [B, ${this.spec.inChannels}, H, W]`);
    }
    if ((this.timeProj === null) !== (embSilu === undefined)) {
      throw new Error(`${this.spec.name}: ${this.timeProj ? 'needs a time embedding' : 'has no time embedding projection, but one was given'}`);
    }
    return rt.tidy(() => {
      const n1 = groupNorm(rt, x, this.norm1[0], this.norm1[1], { groups: this.groups, eps: this.eps, silu: true });
      const h1 = conv2d(rt, n1, this.conv1[0], { padding: 1, bias: this.conv1[1] });
      n1.dispose();
      let h2 = h1;
      if (this.timeProj && embSilu) {
        // The time projection is per (batch, channel): a broadcast add, not a bias the conv can fuse.
        const t = linear(rt, embSilu, this.timeProj[0], { bias: this.timeProj[1] });
        h2 = add(rt, h1, t, { stride: h * wd });
        h1.dispose();
      }
      const n2 = groupNorm(rt, h2, this.norm2[0], this.norm2[1], { groups: this.groups, eps: this.eps, silu: true });
      h2.dispose();
      const residual = this.shortcut ? conv2d(rt, x, this.shortcut[0], { padding: 0, bias: this.shortcut[1] }) : x;
      const out = conv2d(rt, n2, this.conv2[0], { padding: 1, bias: this.conv2[1], residual });
      return out;
    });
  }
}

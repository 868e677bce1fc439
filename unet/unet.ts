// UNet2DConditionModel (Stable Diffusion 1.x) on the project's kernels. forward() only records
// dispatches (no readback), so a whole evaluation lands in one command buffer.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape, type FloatDType } from '../runtime/dtype.js';
import { conv2d } from '../kernels/conv2d.js';
import { groupNorm } from '../kernels/norm.js';
import { unary } from '../kernels/unary.js';
import { cast } from '../kernels/layout.js';
import type { UNetConfig } from './config.js';
import { unetArchitecture, type UNetArchitecture } from './architecture.js';
import { architectureParameterShapes } from './parameters.js';
import { UNetWeights } from './weights.js';
import { TimeEmbedding } from './time-embedding.js';
import { DownBlock, MidBlock, UpBlock, type BlockBuilder, type BlockInputs } from './blocks.js';
import type { BlockPlanner, BlockSite } from './transformer2d.js';
import type { AttentionHooks, BatchLayout, Evaluation } from './hooks.js';

export type { BlockSite } from './transformer2d.js';

export interface UNetCallContext {
  /** Evaluation index handed to hooks (default 0). */
  readonly step?: number;
  /** A token-merging (or observing) plug-in session; see unet/hooks.ts. */
  readonly hooks?: AttentionHooks<unknown>;
  /**
   * 'cfg' when the batch is [uncond…, cond…] for classifier-free guidance (B must be even);
   * default 'none'. Only hooks read it.
   */
  readonly guidance?: BatchLayout['guidance'];
  /**
   * Sees intermediate activations: 'time_embedding', 'conv_in', 'down_blocks.<i>', 'mid_block',
   * 'up_blocks.<i>', 'out' (diffusers' module names). The tensor is valid only during the call:
   * copy it into an rt.keep()'d tensor to read it later.
   */
  readonly capture?: (name: string, t: Tensor) => void;
}

export class UNet {
  readonly architecture: UNetArchitecture;
  /** Every transformer block's fixed place, in execution order. */
  readonly sites: readonly BlockSite[];
  private readonly time: TimeEmbedding;
  private readonly down: readonly DownBlock[];
  private readonly mid: MidBlock | null;
  private readonly up: readonly UpBlock[];
  private readonly convIn: readonly [Tensor, Tensor];
  private readonly normOut: readonly [Tensor, Tensor];
  private readonly convOut: readonly [Tensor, Tensor];
  private readonly owned: Tensor[];
  private disposed = false;

  private constructor(
    private readonly rt: Runtime,
    readonly config: UNetConfig,
    weights: ReadonlyMap<string, Tensor>,
    readonly dtype: FloatDType,
  ) {
    this.architecture = unetArchitecture(config);
    const expected = architectureParameterShapes(this.architecture);
    const w = new UNetWeights(weights, dtype);
    w.validate(expected);
    this.owned = [...expected.keys()].map((name) => w.get(name));
    const a = this.architecture;
    this.time = new TimeEmbedding(rt, a, w, dtype);
    this.convIn = [w.get('conv_in.weight'), w.get('conv_in.bias')];
    this.normOut = [w.get('conv_norm_out.weight'), w.get('conv_norm_out.bias')];
    this.convOut = [w.get('conv_out.weight'), w.get('conv_out.bias')];
    const builder: BlockBuilder = { rt, weights: w, groups: a.groups, eps: a.eps, ordinal: 0 };
    this.down = a.down.map((spec) => new DownBlock(rt, spec, builder));
    this.mid = a.mid ? new MidBlock(rt, a.mid, builder) : null;
    this.up = a.up.map((spec) => new UpBlock(rt, spec, builder));
    this.sites = [...this.down.flatMap((b) => b.sites), ...(this.mid?.sites ?? []), ...this.up.flatMap((b) => b.sites)];
  }

  /**
   * weights: diffusers-named parameters in `dtype` (unetParameterShapes(config) lists them; the
   * loader validates). The U-Net takes ownership of those it uses and frees them in dispose().
   */
  static create(rt: Runtime, config: UNetConfig, weights: ReadonlyMap<string, Tensor>, dtype: FloatDType): UNet {
    if (dtype === 'f16' && !rt.features.f16) throw new Error('UNet: this device has no shader-f16; use f32');
    return new UNet(rt, config, weights, dtype);
  }

  /**
   * Predicts the noise: sample [B, in_channels, h, w] (h and w multiples of 2^(levels−1), 8 for
   * SD 1.5), timestep: a number or a [B] (or [1]) f32 tensor, encoderHiddenStates [B, L, D].
   * Inputs of the other float dtype are cast. Returns [B, out_channels, h, w] in the model dtype.
   */
  forward(sample: Tensor, timestep: Tensor | number, encoderHiddenStates: Tensor, ctx: UNetCallContext = {}): Tensor {
    if (this.disposed) throw new Error('UNet: forward after dispose()');
    const rt = this.rt;
    const a = this.architecture;
    const [batch, channels, height, width] = sample.shape as [number, number, number, number];
    if (sample.rank !== 4 || channels !== a.inChannels || sample.dtype === 'u32') {
      throw new Error(`UNet: sample ${sample}, expected [B, ${a.inChannels}, h, w] f32/f16`);
    }
    const contextDim = this.config.crossAttentionDim;
    const ehs = encoderHiddenStates;
    if (ehs.rank !== 3 || ehs.shape[0] !== batch || ehs.shape[2] !== contextDim || ehs.dtype === 'u32') {
      throw new Error(`UNet: encoder hidden states ${ehs}, expected [${batch}, L, ${contextDim}] for sample ${formatShape(sample.shape)}`);
    }
    if (height < 1 || width < 1) throw new Error(`UNet: empty latent ${height}×${width}`);
    if (typeof timestep !== 'number' && (timestep.dtype !== 'f32' || timestep.rank !== 1 || (timestep.size !== batch && timestep.size !== 1))) {
      throw new Error(`UNet: timestep ${timestep}, expected [${batch}] or [1] f32 (or a number)`);
    }
    const guidance = ctx.guidance ?? 'none';
    if (guidance === 'cfg' && batch % 2 !== 0) throw new Error(`UNet: guidance 'cfg' needs an even batch, got ${batch}`);
    const evaluation: Evaluation = {
      step: ctx.step ?? 0,
      timestep: typeof timestep === 'number' ? timestep : null,
      batch: { size: batch, images: guidance === 'cfg' ? batch / 2 : batch, guidance },
      latentHeight: height,
      latentWidth: width,
    };
    const hooks = ctx.hooks;
    if (hooks?.isDisposed) throw new Error('UNet: ctx.hooks is an AttentionHooks session used after dispose()');
    const capture = ctx.capture ?? null;

    return rt.tidy(() => {
      // uploads flush, so this comes before any recording
      const steps = typeof timestep === 'number' ? rt.upload(new Float32Array(batch).fill(timestep), [batch], 'f32') : timestep;
      hooks?.beginEvaluation(evaluation);
      const x = sample.dtype === this.dtype ? sample : cast(rt, sample, this.dtype);
      const context = ehs.dtype === this.dtype ? ehs : cast(rt, ehs, this.dtype);
      const contextTokens = context.shape[1]!;
      const planner: BlockPlanner | null = hooks
        ? (tokens, site, w, h) => hooks.planBlock(tokens, { ...site, width: w, height: h, tokens: w * h, contextTokens }, evaluation)
        : null;

      const emb = this.time.forward(steps);
      capture?.('time_embedding', emb);
      const inputs: BlockInputs = { embSilu: unary(rt, 'silu', emb), context, planner };

      let h = conv2d(rt, x, this.convIn[0], { padding: (a.convInKernel - 1) / 2, bias: this.convIn[1] });
      capture?.('conv_in', h);
      const skips: Tensor[] = [h];
      for (const block of this.down) {
        const { out, skips: added } = block.forward(h, inputs);
        skips.push(...added);
        capture?.(block.spec.name, out);
        h = out;
      }
      if (this.mid) {
        h = this.mid.forward(h, inputs);
        capture?.('mid_block', h);
      }
      for (const block of this.up) {
        const own = skips.splice(skips.length - block.skipCount, block.skipCount);
        const next = block.forward(h, own, inputs, skips[skips.length - 1] ?? null);
        h.dispose();
        h = next;
        capture?.(block.spec.name, h);
      }
      const normed = groupNorm(rt, h, this.normOut[0], this.normOut[1], { groups: a.groups, eps: a.eps, silu: true });
      h.dispose();
      const out = conv2d(rt, normed, this.convOut[0], { padding: (a.convOutKernel - 1) / 2, bias: this.convOut[1] });
      capture?.('out', out);
      if (hooks) rt.tidy(() => hooks.endEvaluation(evaluation, out));
      return out;
    });
  }

  /** Frees the parameters the U-Net took over. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
  }
}

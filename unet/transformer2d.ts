// Transformer2DModel (diffusers, continuous input): GroupNorm → proj_in → BasicTransformerBlocks on
// tokens → proj_out → + input. proj_in/proj_out are 1×1 convs (SD 1.x) or linears (SD 2.x); both
// are the same [C, C] matrix on tokens, so one code path serves both.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { groupNorm } from '../kernels/norm.js';
import { linear } from '../kernels/matmul.js';
import { conv2d } from '../kernels/conv2d.js';
import { nchwToTokens, tokensToNchw } from '../kernels/layout.js';
import { TRANSFORMER_GROUP_NORM_EPS, type TransformerSpec } from './architecture.js';
import type { BlockPlan, UNetStage } from './hooks.js';
import { TransformerBlock } from './transformer-block.js';
import type { UNetWeights } from './weights.js';

/** The fixed part of a transformer block's place (hooks.ts BlockPlace minus the per-call grid). */
export interface BlockSite {
  readonly name: string;
  readonly stage: UNetStage;
  readonly blockIndex: number;
  readonly attentionIndex: number;
  readonly transformerIndex: number;
  readonly ordinal: number;
  readonly depth: number;
  readonly downsample: number;
  readonly channels: number;
  readonly heads: number;
  readonly headDim: number;
}

/** Asks the hooks (if any) for a block's plan; x is the block input [B, N, C]. */
export type BlockPlanner = (x: Tensor, site: BlockSite, width: number, height: number) => BlockPlan | undefined;

export class Transformer2D {
  readonly sites: readonly BlockSite[];
  private readonly blocks: readonly TransformerBlock[];
  private readonly norm: readonly [Tensor, Tensor];
  private readonly projIn: readonly [Tensor, Tensor];
  /** As a [C, C, 1, 1] conv weight, so the NCHW output and the residual add fuse into one GEMM. */
  private readonly projOut: readonly [Tensor, Tensor];

  constructor(
    private readonly rt: Runtime,
    readonly spec: TransformerSpec,
    place: { readonly stage: UNetStage; readonly blockIndex: number; readonly depth: number; firstOrdinal: number },
    w: UNetWeights,
    private readonly groups: number,
  ) {
    const c = spec.channels;
    this.norm = [w.get(`${spec.name}.norm.weight`), w.get(`${spec.name}.norm.bias`)];
    this.projIn = [w.matrix(`${spec.name}.proj_in.weight`), w.get(`${spec.name}.proj_in.bias`)];
    this.projOut = [w.matrix(`${spec.name}.proj_out.weight`).reshape([c, c, 1, 1]), w.get(`${spec.name}.proj_out.bias`)];
    const blocks: TransformerBlock[] = [];
    const sites: BlockSite[] = [];
    for (let j = 0; j < spec.layers; j++) {
      const name = `${spec.name}.transformer_blocks.${j}`;
      blocks.push(new TransformerBlock(rt, name, c, spec.heads, w));
      sites.push({
        name,
        stage: place.stage,
        blockIndex: place.blockIndex,
        attentionIndex: spec.index,
        transformerIndex: j,
        ordinal: place.firstOrdinal + j,
        depth: place.depth,
        downsample: 2 ** place.depth,
        channels: c,
        heads: spec.heads,
        headDim: spec.headDim,
      });
    }
    this.blocks = blocks;
    this.sites = sites;
  }

  /** x: [B, C, H, W]; context: [B, L, D] → [B, C, H, W]. */
  forward(x: Tensor, context: Tensor, planner: BlockPlanner | null): Tensor {
    const rt = this.rt;
    const [, c, h, w] = x.shape as [number, number, number, number];
    if (x.rank !== 4 || c !== this.spec.channels) {
      throw new Error(`${this.spec.name}: input ${formatShape(x.shape)}, expected [B, ${this.spec.channels}, H, W]`);
    }
    if (context.rank !== 3 || context.shape[0] !== x.shape[0] || context.shape[2] !== this.spec.contextDim) {
      throw new Error(
        `${this.spec.name}: encoder hidden states ${formatShape(context.shape)}, expected [${x.shape[0]}, L, ${this.spec.contextDim}]`,
      );
    }
    return rt.tidy(() => {
      const normed = groupNorm(rt, x, this.norm[0], this.norm[1], { groups: this.groups, eps: TRANSFORMER_GROUP_NORM_EPS });
      const tokens = nchwToTokens(rt, normed);
      normed.dispose();
      let hidden = linear(rt, tokens, this.projIn[0], { bias: this.projIn[1] });
      tokens.dispose();
      this.blocks.forEach((block, j) => {
        const next = rt.tidy(() => {
          const plan = planner ? planner(hidden, this.sites[j]!, w, h) : undefined;
          return block.forward(hidden, context, plan);
        });
        if (next.root !== hidden.root) hidden.dispose();
        hidden = next;
      });
      const image = tokensToNchw(rt, hidden, h, w);
      hidden.dispose();
      return conv2d(rt, image, this.projOut[0], { padding: 0, bias: this.projOut[1], residual: x });
    });
  }
}

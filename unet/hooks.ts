// The interface through which token merging (ToMe / tomesd and its variants) plugs into the U-Net's
// attention blocks, without the U-Net knowing anything about merging.
//
// For every BasicTransformerBlock the U-Net asks the plug-in for a plan, handing it the block input
// x [B, N, C] (before norm1) and where the block sits. A plan may wrap each sublayer s of the block
// (attn1 = self-attention, attn2 = cross-attention, ff = GEGLU feed-forward) so that the block runs
//
//   x = unmerge_s( s( merge_s( norm_s(x) ) ) ) + x          for s = attn1, attn2, ff in turn
//
// which is exactly tomesd's placement (`m, u = compute_merge(x)` from the block input, then
// `x = u_a(attn1(m_a(norm1(x)))) + x`, …), with the same m/u reused for all three sublayers if the
// plug-in wants. A sublayer without a wrap runs unchanged (with its residual add fused).
//
// Tensor lifetime: hooks run inside the U-Net's tidy() scopes. Tensors a hook creates are freed when
// the sublayer / block / evaluation that called it ends, unless the hook rt.keep()s them; kept
// tensors belong to the plug-in, which disposes them (e.g. in disposeBlockState). Tensors the U-Net
// hands to a hook are only valid during the call; hooks must not dispose them.

import type { Tensor } from '../runtime/tensor.js';
import type { DeviceCount } from '../kernels/device-count.js';

export type UNetStage = 'down' | 'mid' | 'up';
export type Sublayer = 'attn1' | 'attn2' | 'ff';
export const SUBLAYERS: readonly Sublayer[] = ['attn1', 'attn2', 'ff'];

/** Where one BasicTransformerBlock sits, and the token grid it sees in this evaluation. */
export interface BlockPlace {
  /** Diffusers parameter prefix, e.g. 'down_blocks.1.attentions.0.transformer_blocks.0'; stable key for state. */
  readonly name: string;
  readonly stage: UNetStage;
  /** Index in down_blocks / up_blocks (0 for the mid block). */
  readonly blockIndex: number;
  /** Index in the block's attentions list (the Transformer2DModel). */
  readonly attentionIndex: number;
  /** Index in that Transformer2DModel's transformer_blocks. */
  readonly transformerIndex: number;
  /** Position among all transformer blocks in execution order (0 = first down block's first). */
  readonly ordinal: number;
  /** Resolution level: 0 at the latent's full size. */
  readonly depth: number;
  /** 2^depth: 1, 2, 4, 8 for SD 1.5. */
  readonly downsample: number;
  /** Token grid of this evaluation: N = width · height, tokens in row-major (y, x) order. */
  readonly width: number;
  readonly height: number;
  readonly tokens: number;
  readonly channels: number;
  readonly heads: number;
  readonly headDim: number;
  /** Length of the cross-attention context (encoder_hidden_states tokens). */
  readonly contextTokens: number;
}

/**
 * How the batch is organised. With classifier-free guidance diffusers stacks
 * [uncond_0 … uncond_{n-1}, cond_0 … cond_{n-1}], so row b and row b + images show the same image.
 */
export interface BatchLayout {
  /** B, the batch of the U-Net input. */
  readonly size: number;
  /** Distinct images: B / 2 under guidance, B otherwise. */
  readonly images: number;
  readonly guidance: 'none' | 'cfg';
}

/** One U-Net evaluation (one forward call). */
export interface Evaluation {
  /** The caller's evaluation index (ctx.step): counts U-Net calls, not scheduler steps, if they differ. */
  readonly step: number;
  /** The timestep when it was given as a number; null when it came as a tensor (never read back). */
  readonly timestep: number | null;
  readonly batch: BatchLayout;
  /** The latent's size (tomesd's tome_info["size"]). */
  readonly latentHeight: number;
  readonly latentWidth: number;
}

/** A token map on [B, N, C] tensors (same B and C; N may change). */
export type TokenMap = (x: Tensor) => Tensor;

export interface SublayerWrap {
  /** Applied to the normed hidden states [B, N, C]; its result feeds the sublayer ([B, N', C]). */
  readonly merge?: TokenMap;
  /** Maps the sublayer output [B, N', C] back to [B, N, C] before the residual add. */
  readonly unmerge?: TokenMap;
  /**
   * Fused alternative to unmerge: returns unmerge(y) + residual in one pass. Used instead of
   * unmerge when given (so one gather kernel can do both).
   */
  readonly unmergeAdd?: (y: Tensor, residual: Tensor) => Tensor;
  /**
   * attn1 only: the self-attention's key/value tokens, computed from the normed (unmerged) hidden
   * states — e.g. ToDo's downsampled keys/values with full-resolution queries. Default: the merged
   * tokens (the same as the queries).
   */
  readonly keyValues?: TokenMap;
  /**
   * A merge whose length depends on the data (CA-ToMe's threshold) without the host reading it:
   * merge keeps the capacity [B, N, C] and only its first validTokens rows (a u32 the plug-in's
   * kernels left on the GPU) are real; unmerge never reads the rest. Self-attention masks keys and
   * skips query rows past the count (rows past it would otherwise attend to, and be, garbage);
   * cross-attention skips those query rows; row-wise layers (linears, GEGLU) run over the capacity.
   */
  readonly validTokens?: DeviceCount;
}

/**
 * Wraps per sublayer for one pass through one block; a missing entry runs that sublayer unchanged.
 * tokenMap is for observers (analysis tools); the U-Net never calls it.
 */
export type BlockPlan = Readonly<Partial<Record<Sublayer, SublayerWrap>>> & {
  /**
   * u32 [B, N]: each token's row in the merged sequence; tokens sharing a row are merged together.
   * A function because a plug-in may only know it once its first merge has run (ToMA computes its
   * assignment from the merged sublayer's input): call it after a merge of this block call, within
   * it. The tensor may be made by the call and freed when the sublayer ends, so copy it to keep it.
   */
  readonly tokenMap?: () => Tensor;
};

/** What a plug-in gets for one block call. */
export interface BlockCall<State> {
  readonly place: BlockPlace;
  readonly evaluation: Evaluation;
  /** The plug-in's own state for this block, made by createBlockState on the block's first call. */
  readonly state: State;
}

/** A token-merging plug-in (or any other attention-block observer). All hooks are optional. */
export interface AttentionPlugin<State = unknown> {
  /** Before the first block of an evaluation. */
  beginEvaluation?(evaluation: Evaluation): void;
  /**
   * For a plug-in whose work changes between evaluations (pairs recomputed at some, reused at
   * others): a name for the kind of work evaluation `step` records. The denoising loop replays each
   * kind on its own buffers (Runtime.iteration), so every kind finds its bind groups cached. A wrong
   * guess costs host time only. Default: one kind.
   */
  evaluationKind?(step: number): string;
  /** The block's state, made once per hook session the first time the block runs. */
  createBlockState?(place: BlockPlace): State;
  /**
   * At each BasicTransformerBlock with its input x [B, N, C] (before norm1, model dtype): the wraps
   * for this pass. Tensors made here (merge indices, …) live until the block ends unless kept.
   */
  planBlock?(x: Tensor, call: BlockCall<State>): BlockPlan | undefined;
  /**
   * After the last layer, with this evaluation's noise prediction [B, out_channels, h, w] (model
   * dtype). Under CFG the rows are [uncond…, cond…], so ε_cond − ε_uncond is available here for the
   * next evaluation (compute it on the GPU and rt.keep it: noisePred belongs to the caller).
   */
  endEvaluation?(evaluation: Evaluation, noisePred: Tensor): void;
  /** Releases one block's state (when the hook session is disposed). */
  disposeBlockState?(state: State, place: BlockPlace): void;
  /** After every block state has been released. */
  dispose?(): void;
}

/**
 * A plug-in bound to its per-block states: one session per generation (or per run of steps that
 * should share state). Pass it as ctx.hooks to every U-Net evaluation; dispose() releases all state.
 */
export class AttentionHooks<State = unknown> {
  private readonly states = new Map<string, { state: State; place: BlockPlace }>();
  private disposed = false;

  constructor(readonly plugin: AttentionPlugin<State>) {}

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Number of blocks that have state. */
  get blockCount(): number {
    return this.states.size;
  }

  /** The state of a block by its name, if it has run under this session. */
  stateOf(name: string): State | undefined {
    return this.states.get(name)?.state;
  }

  /** The plug-in's name for the work of evaluation `step` ('' unless it tells kinds apart). */
  evaluationKind(step: number): string {
    return this.plugin.evaluationKind?.(step) ?? '';
  }

  beginEvaluation(evaluation: Evaluation): void {
    this.assertLive();
    this.plugin.beginEvaluation?.(evaluation);
  }

  planBlock(x: Tensor, place: BlockPlace, evaluation: Evaluation): BlockPlan | undefined {
    this.assertLive();
    if (!this.plugin.planBlock) return undefined;
    let entry = this.states.get(place.name);
    if (!entry) {
      entry = { state: this.plugin.createBlockState ? this.plugin.createBlockState(place) : (undefined as State), place };
      this.states.set(place.name, entry);
    }
    return this.plugin.planBlock(x, { place, evaluation, state: entry.state });
  }

  endEvaluation(evaluation: Evaluation, noisePred: Tensor): void {
    this.assertLive();
    this.plugin.endEvaluation?.(evaluation, noisePred);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { state, place } of this.states.values()) this.plugin.disposeBlockState?.(state, place);
    this.states.clear();
    this.plugin.dispose?.();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('AttentionHooks: session used after dispose()');
  }
}

// An observing wrapper around a token-merging plug-in: forwards every hook unchanged and, for each
// block whose plan carries a tokenMap (unet/hooks.ts), copies that map into a tensor of its own
// right after the block's first merge, so it can be read back between U-Net evaluations. Merging
// itself is untouched; the cost is one small GPU copy per merging block, plus the readback.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import {
  SUBLAYERS,
  type AttentionPlugin,
  type BlockCall,
  type BlockPlace,
  type BlockPlan,
  type Evaluation,
  type Sublayer,
  type SublayerWrap,
} from '../unet/hooks.js';

/** One block's token map in one evaluation, read back. */
export interface RecordedTokenMap {
  readonly place: BlockPlace;
  /** Batch rows B (the evaluation's batch: [uncond…, cond…] under guidance). */
  readonly batch: number;
  /** [B, N] row-major: each token's row in the merged sequence. */
  readonly rows: Uint32Array;
}

/** Every token map of one U-Net evaluation, in block execution order. */
export interface RecordedEvaluation {
  readonly evaluation: Evaluation;
  readonly maps: readonly RecordedTokenMap[];
}

/** A plug-in to wrap: any AttentionPlugin (CA-ToMe included: it needs no host sync). */
export type RecordablePlugin = AttentionPlugin<unknown>;

interface PendingEvaluation {
  readonly evaluation: Evaluation;
  readonly copies: { readonly place: BlockPlace; readonly copy: Tensor }[];
}

export class TokenMapRecorder implements AttentionPlugin<unknown> {
  private pending: PendingEvaluation[] = [];

  constructor(
    private readonly rt: Runtime,
    readonly inner: RecordablePlugin,
  ) {}

  beginEvaluation(evaluation: Evaluation): void {
    this.pending.push({ evaluation, copies: [] });
    this.inner.beginEvaluation?.(evaluation);
  }

  createBlockState(place: BlockPlace): unknown {
    return this.inner.createBlockState?.(place);
  }

  planBlock(x: Tensor, call: BlockCall<unknown>): BlockPlan | undefined {
    const plan = this.inner.planBlock?.(x, call);
    const tokenMap = plan?.tokenMap;
    const current = this.pending[this.pending.length - 1];
    if (!plan || !tokenMap || !current) return plan;
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const map = tokenMap();
      const copy = this.rt.keep(this.rt.empty(map.shape, 'u32'));
      this.rt.copy(map, copy);
      current.copies.push({ place: call.place, copy });
    };
    const wraps: Partial<Record<Sublayer, SublayerWrap>> = {};
    for (const s of SUBLAYERS) {
      const wrap = plan[s];
      const merge = wrap?.merge;
      if (!wrap || !merge) continue;
      wraps[s] = {
        ...wrap,
        merge: (h) => {
          const merged = merge(h);
          record();
          return merged;
        },
      };
    }
    return { ...plan, ...wraps };
  }

  endEvaluation(evaluation: Evaluation, noisePred: Tensor): void {
    this.inner.endEvaluation?.(evaluation, noisePred);
  }

  /**
   * Reads back every evaluation recorded since the last call (one wait for all) and frees their
   * copies. Call between U-Net evaluations, e.g. from the pipeline's onStep.
   */
  async read(): Promise<RecordedEvaluation[]> {
    const taken = this.pending;
    this.pending = [];
    try {
      return await Promise.all(
        taken.map(async ({ evaluation, copies }) => ({
          evaluation,
          maps: await Promise.all(
            copies.map(async ({ place, copy }) => ({ place, batch: copy.shape[0]!, rows: await this.rt.readU32(copy) })),
          ),
        })),
      );
    } finally {
      for (const p of taken) for (const c of p.copies) c.copy.dispose();
    }
  }

  disposeBlockState(state: unknown, place: BlockPlace): void {
    this.inner.disposeBlockState?.(state, place);
  }

  dispose(): void {
    for (const p of this.pending) for (const c of p.copies) c.copy.dispose();
    this.pending = [];
    this.inner.dispose?.();
  }
}

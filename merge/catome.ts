// CA-ToMe (Saghatchian et al., "Cached Adaptive Token Merging"): tomesd's matching with an adaptive
// merge count — every row merges its r most similar sources, r = max over the batch rows of
// #{sources with best cosine similarity ≥ threshold} — and the merge pairs of each block computed
// only at checkpoint evaluations and reused (cached in the block's hook state) in between.
//
// r depends on the data, yet the U-Net records a whole evaluation without waiting for the GPU, and
// the denoising loop never reads back. So r never reaches the host:
//   - at a checkpoint evaluation the block matches x afresh and counts r on the GPU (a u32 beside
//     N − r, one count for both CFG halves: the maximum over the batch rows);
//   - the merge kernels read r from that buffer; merged tensors keep the capacity [B, N, C], their
//     first N − r rows the merged sequence (tomesd order: unmerged sources by descending
//     similarity, then destinations) and zeros after; the token map points below N − r only;
//   - the plan hands N − r to the U-Net (SublayerWrap.validTokens): self-attention masks keys past
//     it and skips query rows past it; the linears run over all N rows (row-wise: the extra rows
//     cost time, never correctness), and the unmerge reads only real rows;
//   - every evaluation until the next checkpoint reuses the cached pairs and the cached r.
// So every evaluation, the checkpoint itself included, merges exactly ca_tome's pairs with its r.
// The price of fixed capacity: the linears around a merged sublayer do not shrink with r.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { AttentionPlugin, BlockCall, BlockPlace, BlockPlan, Evaluation } from '../unet/hooks.js';
import {
  countAtLeastThreshold,
  disposePartition,
  matchBipartite,
  planMerge,
  type BipartiteMatch,
  type BipartiteMerge,
  type MergeCount,
  type TokenPartition,
} from './bipartite.js';
import { checkpointSteps, type CaToMeSchedule } from './schedules.js';
import {
  GridPartitionCache,
  hasDestinations,
  mergesAt,
  randomPartitionFor,
  randomSplit,
  resolveBlockOptions,
  tomesdPlan,
  type ResolvedBlockOptions,
  type TomesdBlockOptions,
} from './tomesd-blocks.js';

export interface CaToMeOptions extends TomesdBlockOptions {
  /** Cosine similarity a source needs to count towards r (ca_tome's r argument). Default 0.7; ≥ 1 merges nothing. */
  readonly threshold?: number;
  /** Evaluations that recompute the pairs: a preset or a list. Default 'CONFIG_3', the paper's best. */
  readonly checkpoints?: CaToMeSchedule | readonly number[];
}

/** One block's cache, all of it on the GPU. */
export interface CaToMeBlockState {
  /** The split the cached match refers to (owned when random, else from the shared cache). */
  partition: TokenPartition | null;
  ownsPartition: boolean;
  /** Pairs of the last checkpoint. */
  match: BipartiteMatch | null;
  /** r of those pairs and the merged length N − r, counted on the GPU at that checkpoint. */
  count: MergeCount | null;
  /** The merge of `match` with `count`. */
  plan: BipartiteMerge | null;
}

export class CaToMePlugin implements AttentionPlugin<CaToMeBlockState> {
  readonly method = 'catome';
  readonly threshold: number;
  readonly checkpoints: ReadonlySet<number>;
  readonly options: ResolvedBlockOptions;
  private readonly splits: GridPartitionCache;
  private readonly states = new Set<CaToMeBlockState>();

  constructor(
    private readonly rt: Runtime,
    options: CaToMeOptions = {},
  ) {
    this.threshold = options.threshold ?? 0.7;
    if (!Number.isFinite(this.threshold)) throw new Error(`catome: threshold ${this.threshold} is not finite`);
    this.checkpoints = checkpointSteps(options.checkpoints ?? 'CONFIG_3');
    this.options = resolveBlockOptions('catome', options);
    this.splits = new GridPartitionCache(rt);
  }

  evaluationKind(step: number): string {
    return this.checkpoints.has(step) ? 'pairs recomputed' : 'pairs reused';
  }

  createBlockState(): CaToMeBlockState {
    const state: CaToMeBlockState = { partition: null, ownsPartition: false, match: null, count: null, plan: null };
    this.states.add(state);
    return state;
  }

  planBlock(x: Tensor, { place, evaluation, state }: BlockCall<CaToMeBlockState>): BlockPlan | undefined {
    const o = this.options;
    if (this.threshold >= 1 || !mergesAt(place, evaluation, o) || !hasDestinations(place, o)) return undefined;
    if (state.match && state.match.partition.tokens !== place.tokens) {
      throw new Error(`catome: ${place.name} cached pairs for ${state.match.partition.tokens} tokens, now called with ${place.tokens}`);
    }
    if (!state.match || this.checkpoints.has(evaluation.step)) this.recompute(x, place, evaluation, state);
    return tomesdPlan(state.plan!, o);
  }

  disposeBlockState(state: CaToMeBlockState): void {
    this.release(state);
    this.states.delete(state);
  }

  dispose(): void {
    for (const s of this.states) this.release(s);
    this.states.clear();
    this.splits.dispose();
  }

  /** Fresh pairs, r and plan from x: recorded GPU work only, kept until the next checkpoint. */
  private recompute(x: Tensor, place: BlockPlace, evaluation: Evaluation, state: CaToMeBlockState): void {
    this.release(state);
    const o = this.options;
    if (randomSplit(evaluation, o)) {
      const p = randomPartitionFor(this.rt, place, evaluation, o);
      this.rt.keep(p.dst);
      this.rt.keep(p.src);
      state.partition = p;
      state.ownsPartition = true;
    } else {
      state.partition = this.splits.get(place.width, place.height, o);
      state.ownsPartition = false;
    }
    state.match = matchBipartite(this.rt, x, state.partition, this.options.similarity).keep(this.rt);
    state.count = countAtLeastThreshold(this.rt, state.match, this.threshold);
    this.rt.keep(state.count.tensor);
    state.plan = planMerge(this.rt, state.match, state.count).keep();
  }

  /** Frees the block's cached tensors. */
  private release(state: CaToMeBlockState): void {
    state.plan?.dispose();
    state.plan = null;
    state.count?.tensor.dispose();
    state.count = null;
    state.match?.dispose();
    state.match = null;
    if (state.ownsPartition && state.partition) disposePartition(state.partition);
    state.partition = null;
    state.ownsPartition = false;
  }
}

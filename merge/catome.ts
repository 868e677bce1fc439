// CA-ToMe (Saghatchian et al., "Cached Adaptive Token Merging"): tomesd's matching with an adaptive
// merge count — every row merges its r most similar sources, r = max over the batch rows of
// #{sources with best cosine similarity ≥ threshold} — and the merge pairs of each block computed
// only at checkpoint evaluations and reused (cached in the block's hook state) in between.
//
// r depends on the data, and the merged tensor's shape depends on r, while the U-Net records a
// whole evaluation without waiting for the GPU. So r reaches the host one evaluation late:
//   - at a checkpoint evaluation the block matches x afresh on the GPU and leaves its count there;
//     this evaluation merges the r of the block's previous checkpoint (none before the first) with
//     the fresh pairs;
//   - resolveMergeCounts(), awaited by the pipeline after each U-Net evaluation, reads the counts
//     (the one sync point: one wait, a u32 per block, only after checkpoint evaluations);
//   - every later evaluation until the next checkpoint merges exactly CA-ToMe's pairs and r.
// So non-checkpoint evaluations match ca_tome; checkpoint evaluations use the fresh matching with
// the previous count. Removing the lag needs the attention and linear kernels to take their token
// count from a GPU buffer (see the report in merge/index.ts).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { AttentionPlugin, BlockCall, BlockPlace, BlockPlan, Evaluation } from '../unet/hooks.js';
import {
  countAtLeastThreshold,
  disposePartition,
  matchBipartite,
  planMerge,
  readMergeCounts,
  type BipartiteMatch,
  type BipartiteMerge,
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

/** One block's cache. */
export interface CaToMeBlockState {
  /** The split the cached match refers to (owned when random, else from the shared cache). */
  partition: TokenPartition | null;
  ownsPartition: boolean;
  /** Pairs of the last checkpoint. */
  match: BipartiteMatch | null;
  /** The GPU count of that match, until resolveMergeCounts reads it. */
  pendingCount: Tensor | null;
  /** The resolved r of `match`, once read. */
  count: number | null;
  /** The last r read for this block (used at a checkpoint, before its own count is known). */
  previousCount: number | null;
  /** The merge of `match` with the r in use. */
  plan: BipartiteMerge | null;
}

export class CaToMePlugin implements AttentionPlugin<CaToMeBlockState> {
  readonly method = 'catome';
  readonly threshold: number;
  readonly checkpoints: ReadonlySet<number>;
  readonly options: ResolvedBlockOptions;
  private readonly splits: GridPartitionCache;
  private readonly states = new Set<CaToMeBlockState>();
  private reads = 0;

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

  /** GPU→CPU waits made so far (resolveMergeCounts calls that had counts to read). */
  get syncPoints(): number {
    return this.reads;
  }

  createBlockState(): CaToMeBlockState {
    const state: CaToMeBlockState = { partition: null, ownsPartition: false, match: null, pendingCount: null, count: null, previousCount: null, plan: null };
    this.states.add(state);
    return state;
  }

  planBlock(x: Tensor, { place, evaluation, state }: BlockCall<CaToMeBlockState>): BlockPlan | undefined {
    const o = this.options;
    if (this.threshold >= 1 || !mergesAt(place, evaluation, o) || !hasDestinations(place, o)) return undefined;
    if (state.pendingCount) {
      throw new Error(
        `catome: ${place.name} still waits for the merge count of its last checkpoint; ` +
          'await plugin.resolveMergeCounts() after every U-Net evaluation',
      );
    }
    if (state.match && state.match.partition.tokens !== place.tokens) {
      throw new Error(`catome: ${place.name} cached pairs for ${state.match.partition.tokens} tokens, now called with ${place.tokens}`);
    }
    let r: number;
    if (!state.match || this.checkpoints.has(evaluation.step)) {
      this.recompute(x, place, evaluation, state);
      r = state.previousCount ?? 0;
    } else {
      r = state.count ?? state.previousCount ?? 0;
    }
    const match = state.match!;
    r = Math.min(r, match.partition.nSrc);
    if (state.plan && (state.plan.match !== match || state.plan.r !== r)) {
      state.plan.dispose();
      state.plan = null;
    }
    if (!state.plan && r > 0) state.plan = planMerge(this.rt, match, r).keep();
    return state.plan ? tomesdPlan(state.plan, o) : undefined;
  }

  /**
   * The one sync point: reads every block's pending merge count (one wait for all) and makes it
   * the r of that block's cached pairs from the next evaluation on. Await it after each U-Net
   * evaluation (between evaluations, never inside one); it returns at once when nothing is pending.
   */
  async resolveMergeCounts(): Promise<void> {
    const pending = [...this.states].filter((s) => s.pendingCount);
    if (pending.length === 0) return;
    this.reads++;
    const counts = await readMergeCounts(this.rt, pending.map((s) => s.pendingCount!));
    pending.forEach((s, i) => {
      s.pendingCount!.dispose();
      s.pendingCount = null;
      s.count = counts[i]!;
      s.previousCount = counts[i]!;
    });
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
    state.match = matchBipartite(this.rt, x, state.partition).keep(this.rt);
    state.pendingCount = this.rt.keep(countAtLeastThreshold(this.rt, state.match, this.threshold));
    state.count = null;
  }

  /** Frees the block's cached tensors (previousCount survives: it is a number). */
  private release(state: CaToMeBlockState): void {
    state.plan?.dispose();
    state.plan = null;
    state.match?.dispose();
    state.match = null;
    state.pendingCount?.dispose();
    state.pendingCount = null;
    if (state.ownsPartition && state.partition) disposePartition(state.partition);
    state.partition = null;
    state.ownsPartition = false;
  }
}

// ToMe for Stable Diffusion (Bolya & Hoffman 2023; tomesd): in every BasicTransformerBlock of at
// most max_downsample, the r = ⌊N · ratio⌋ sources most similar to a destination of the sx×sy grid
// are averaged into it around the chosen sublayers, and copied back after. Matching uses the block
// input x (before norm1) and is recomputed at every call, entirely on the GPU; r is known on the
// host, so every shape is static and nothing is read back.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { AttentionPlugin, BlockCall, BlockPlan } from '../unet/hooks.js';
import { matchBipartite, planMerge } from './bipartite.js';
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

export interface ToMeOptions extends TomesdBlockOptions {
  /** Fraction of a block's tokens merged away: r = ⌊N · ratio⌋ (clamped to the sources). Default 0.5. */
  readonly ratio?: number;
}

export class ToMePlugin implements AttentionPlugin<undefined> {
  readonly method = 'tome';
  readonly ratio: number;
  readonly options: ResolvedBlockOptions;
  private readonly splits: GridPartitionCache;

  constructor(
    private readonly rt: Runtime,
    options: ToMeOptions = {},
  ) {
    this.ratio = options.ratio ?? 0.5;
    if (!(this.ratio >= 0 && this.ratio < 1)) throw new Error(`tome: ratio = ${this.ratio} must be in [0, 1)`);
    this.options = resolveBlockOptions('tome', options);
    this.splits = new GridPartitionCache(rt);
  }

  planBlock(x: Tensor, { place, evaluation }: BlockCall<undefined>): BlockPlan | undefined {
    const o = this.options;
    if (!mergesAt(place, evaluation, o) || !hasDestinations(place, o)) return undefined;
    const r = Math.floor(place.tokens * this.ratio);
    if (r <= 0) return undefined; // tomesd: do_nothing
    const partition = randomSplit(evaluation, o) ? randomPartitionFor(this.rt, place, evaluation, o) : this.splits.get(place.width, place.height, o);
    const match = matchBipartite(this.rt, x, partition, o.similarity);
    // tomesd: r = min(#sources, r)
    return tomesdPlan(planMerge(this.rt, match, Math.min(r, partition.nSrc)), o);
  }

  dispose(): void {
    this.splits.dispose();
  }
}

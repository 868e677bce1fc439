// What ToMe (tomesd) and CA-ToMe share around the matching: which blocks merge, the token grid of
// a block, the split cache, per-call seeds, and the sublayer wraps.

import type { Runtime } from '../runtime/runtime.js';
import type { BlockPlace, BlockPlan, Evaluation, SublayerWrap } from '../unet/hooks.js';
import { disposePartition, type BipartiteMerge, type TokenPartition } from './bipartite.js';
import { gridPartition, randomGridPartition } from './partition.js';

/** tomesd's apply_patch arguments other than the merge amount. */
export interface TomesdBlockOptions {
  /** Merge in blocks downsampled at most this much (1: the full-resolution blocks only). Default 1. */
  readonly maxDownsample?: number;
  /** Destination stride: one destination per sx × sy cell. Default 2 × 2. */
  readonly sx?: number;
  readonly sy?: number;
  /**
   * A random destination per cell (tomesd's default, true) instead of the top-left one. Our own
   * seeded hash, not torch.randint: random splits never match tomesd's bit for bit. Forced off for
   * odd batches, as in tomesd.
   */
  readonly useRand?: boolean;
  /** Seed of the random destinations (mixed with the evaluation step and block). Default 0. */
  readonly seed?: number;
  /** Merge around self-attention (default true), cross-attention and the feed-forward (default false). */
  readonly mergeAttn?: boolean;
  readonly mergeCrossAttn?: boolean;
  readonly mergeMlp?: boolean;
  /**
   * How the cosine similarities are computed. 'fast' (default): on tensor cores in f16 where the
   * device has them, as tomesd computes them on an fp16 model (near-ties may then pick other pairs
   * than an f32 reference); 'exact': in f32, reproducing the f32 reference's choices.
   */
  readonly similarity?: SimilarityPrecision;
}

export type SimilarityPrecision = 'fast' | 'exact';

export type ResolvedBlockOptions = Required<TomesdBlockOptions>;

export function resolveBlockOptions(method: string, o: TomesdBlockOptions): ResolvedBlockOptions {
  const r: ResolvedBlockOptions = {
    maxDownsample: o.maxDownsample ?? 1,
    sx: o.sx ?? 2,
    sy: o.sy ?? 2,
    useRand: o.useRand ?? true,
    seed: o.seed ?? 0,
    mergeAttn: o.mergeAttn ?? true,
    mergeCrossAttn: o.mergeCrossAttn ?? false,
    mergeMlp: o.mergeMlp ?? false,
    similarity: o.similarity ?? 'fast',
  };
  if (r.similarity !== 'fast' && r.similarity !== 'exact') throw new Error(`${method}: similarity = ${String(r.similarity)} must be 'fast' or 'exact'`);
  for (const k of ['maxDownsample', 'sx', 'sy'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new Error(`${method}: ${k} = ${r[k]} must be a positive integer`);
  }
  if (!Number.isInteger(r.seed)) throw new Error(`${method}: seed = ${r.seed} must be an integer`);
  return r;
}

/**
 * tomesd's test: downsample = ⌈√⌊latent tokens / N⌋⌉ ≤ max_downsample. Computed from token counts as
 * tomesd does (not from the block's depth), so odd latent sizes decide the same way.
 */
export function mergesAt(place: BlockPlace, evaluation: Evaluation, o: ResolvedBlockOptions): boolean {
  const latentTokens = evaluation.latentHeight * evaluation.latentWidth;
  const downsample = Math.ceil(Math.sqrt(Math.floor(latentTokens / place.tokens)));
  return downsample <= o.maxDownsample;
}

/** Destinations are random only where tomesd allows it (even batches: the CFG halves share a split). */
export function randomSplit(evaluation: Evaluation, o: ResolvedBlockOptions): boolean {
  return o.useRand && evaluation.batch.size % 2 === 0;
}

/** A 32-bit seed per (seed, step, block): murmur3's finaliser over the words. */
export function mixSeed(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    h = Math.imul(h ^ (w >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** The no_rand splits by grid, uploaded once and kept until dispose(). */
export class GridPartitionCache {
  private readonly splits = new Map<string, TokenPartition>();

  constructor(private readonly rt: Runtime) {}

  get(width: number, height: number, o: ResolvedBlockOptions): TokenPartition {
    const key = `${width}x${height}/${o.sx}x${o.sy}`;
    let p = this.splits.get(key);
    if (!p) {
      p = gridPartition(this.rt, width, height, o);
      this.rt.keep(p.dst);
      this.rt.keep(p.src);
      this.splits.set(key, p);
    }
    return p;
  }

  dispose(): void {
    for (const p of this.splits.values()) disposePartition(p);
    this.splits.clear();
  }
}

/** A random split for one block call (freed with the block's tidy scope unless kept). */
export function randomPartitionFor(rt: Runtime, place: BlockPlace, evaluation: Evaluation, o: ResolvedBlockOptions): TokenPartition {
  return randomGridPartition(rt, place.width, place.height, o, mixSeed(o.seed, evaluation.step, place.ordinal));
}

/** The same merge/unmerge around each enabled sublayer, as tomesd's compute_merge hands out; tokenMap = its positions. */
export function tomesdPlan(plan: BipartiteMerge, o: ResolvedBlockOptions): BlockPlan {
  const wrap: SublayerWrap = {
    merge: (x) => plan.merge(x),
    unmerge: (y) => plan.unmerge(y),
    unmergeAdd: (y, residual) => plan.unmergeAdd(y, residual),
    // CA-ToMe: r on the GPU, so the merged tensors keep N rows and the attention bounds itself
    ...(plan.validTokens ? { validTokens: plan.validTokens } : {}),
  };
  return {
    ...(o.mergeAttn ? { attn1: wrap } : {}),
    ...(o.mergeCrossAttn ? { attn2: wrap } : {}),
    ...(o.mergeMlp ? { ff: wrap } : {}),
    tokenMap: () => plan.positions,
  };
}

/** Whether the split has any destination to merge into (grids smaller than a cell have none). */
export function hasDestinations(place: BlockPlace, o: ResolvedBlockOptions): boolean {
  return place.width >= o.sx && place.height >= o.sy;
}

// Importance-based token merging (Wu, Xu, Le, Samaras, "Importance-Based Token Merging for
// Efficient Image and Video Generation", arXiv 2411.16720) as an AttentionPlugin.
//
// A token's importance is the classifier-free-guidance magnitude ‖ε_cond − ε_uncond‖ at its latent
// position, taken from the previous U-Net evaluation's noise prediction (free: both halves exist
// already; endEvaluation computes the [images, H, W] map on the GPU and keeps it). In every merging
// block the map is averaged onto the block's grid (d × d cells at downsample d), and per image
//   - the pool = the round(N · poolFraction) most important tokens,
//   - destinations = round(N · dstFraction) tokens drawn at random (seeded hash) from the pool,
//   - every token outside the pool is merged into its most similar destination (cosine on the
//     block input x, as tomesd),
//   - the pool's other tokens are sources matched the same way; the best-matching of them fill the
//     rest of the budget r = ⌊N · ratio⌋, the others stay independent (unmerged).
// Both CFG halves of an image share its map, hence its split. The first evaluation (no map yet),
// evaluations without CFG, and a map from another latent size or batch fall back to plain ToMe
// (ToMePlugin with the same options), so they match it exactly.
//
// Deviations from the paper, all for a readback-free fixed-shape pipeline:
//   - "Without a suitable match" is decided by the budget, not a similarity threshold: a threshold
//     would make the merged token count data-dependent (a GPU→CPU read per block, like CA-ToMe's);
//     here the N − r − dst worst-matching pool sources stay independent.
//   - The importance of evaluation k comes from evaluation k − 1 (the current one's ε is not known
//     until the U-Net has run).
//   - Destinations come from our own counter-based hash, not torch's generator.
// The paper's text beyond its overview (pool/destination sizes, threshold values) was not
// available to us; the defaults were chosen by measurement on the tiny test U-Net (see
// IMPORTANCE_DEFAULTS).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { AttentionPlugin, BlockCall, BlockPlan, Evaluation } from '../unet/hooks.js';
import { guidanceMagnitude } from '../kernels/importance-map.js';
import { ToMePlugin } from './tome.js';
import { importanceCounts, planImportanceMerge, rankImportance, type ImportanceCounts, type ImportanceFractions } from './importance-split.js';
import { mergesAt, mixSeed, resolveBlockOptions, tomesdPlan, type ResolvedBlockOptions, type TomesdBlockOptions } from './tomesd-blocks.js';

/**
 * tomesd's block options (maxDownsample, seed, which sublayers merge) apply to both paths; sx, sy
 * and useRand only shape the ToMe fallback's grid destinations. Fractions default to
 * IMPORTANCE_DEFAULTS.
 */
export interface ImportanceOptions extends TomesdBlockOptions, Partial<ImportanceFractions> {}

/**
 * Defaults, measured on the tiny test U-Net (16×16 latent, CFG, evaluation 1 after a ToMe
 * evaluation 0; relative L2 change of the guided prediction ε_u + 7.5 (ε_c − ε_u) against the
 * unmerged U-Net, mean over 4 seeds; ToMe at the same ratio = 1):
 *
 *   ratio 0.5      dst 0.25   dst 0.375   dst 0.5
 *   pool 0.5       0.990      0.950       0.921 (no independent tokens left)
 *   pool 0.75      0.978      0.943
 *   pool 1.0       0.998      0.932       (pool 1 = no importance: random destinations among all)
 *
 * (raw ε change: the same picture; ratio 0.3: 0.935, ratio 0.7: 0.983 with pool 0.75 / dst 0.375.)
 * The destination count dominates: more destinations, less change. The pool fraction moves the
 * result by ≤ 2 % either way — the tiny model's weights are random, so its guidance magnitude
 * carries no real importance and this model cannot show the method's benefit; that needs SD 1.5.
 *   - ratio 0.5: tomesd's default, so the two compare at one merged fraction.
 *   - dstFraction 0.375: 5–7 % less change than ToMe while N − r − dst = N/8 pool tokens stay
 *     independent (at 0.5 none would at ratio 0.5, and the method degenerates to forced merges).
 *   - poolFraction 0.75: the pool's effect is below this model's noise; 0.75 keeps both parts of
 *     the method working at ratio 0.5 — the least important quarter always merged, and pool
 *     sources competing by similarity for the remaining budget.
 * At ratio > 1 − dstFraction the destination count is clamped to N − r and no token stays
 * independent.
 */
export const IMPORTANCE_DEFAULTS: Readonly<ImportanceFractions> = {
  ratio: 0.5,
  poolFraction: 0.75,
  dstFraction: 0.375,
};

/** The guidance magnitude of one evaluation, kept for the next. */
interface GuidanceMap {
  readonly map: Tensor;
  readonly step: number;
  readonly images: number;
  readonly latentHeight: number;
  readonly latentWidth: number;
}

export class ImportancePlugin implements AttentionPlugin<undefined> {
  readonly method = 'importance';
  readonly fractions: ImportanceFractions;
  readonly options: ResolvedBlockOptions;
  /** Block calls planned with importance, and with the ToMe fallback (for tests and reports). */
  importancePlans = 0;
  fallbackPlans = 0;
  private readonly fallback: ToMePlugin;
  private guidance: GuidanceMap | null = null;
  /** Importance ranks of the kept map by pooling factor (shared by the blocks of a grid). */
  private readonly ranks = new Map<string, Tensor>();

  constructor(
    private readonly rt: Runtime,
    options: ImportanceOptions = {},
  ) {
    const f = { ...IMPORTANCE_DEFAULTS, ...definedOnly(options) };
    if (!(f.ratio >= 0 && f.ratio < 1)) throw new Error(`importance: ratio = ${f.ratio} must be in [0, 1)`);
    for (const k of ['poolFraction', 'dstFraction'] as const) {
      if (!(f[k] > 0 && f[k] <= 1)) throw new Error(`importance: ${k} = ${f[k]} must be in (0, 1]`);
    }
    this.fractions = { ratio: f.ratio, poolFraction: f.poolFraction, dstFraction: f.dstFraction };
    this.options = resolveBlockOptions('importance', options);
    this.fallback = new ToMePlugin(rt, { ...this.options, ratio: f.ratio });
  }

  /** The counts a block of N tokens merges with (exact: the merged sequence has N − r tokens). */
  counts(tokens: number): ImportanceCounts {
    return importanceCounts(tokens, this.fractions);
  }

  /** The kept guidance magnitude [images, H, W] f32 of the last guided evaluation, if any. */
  get guidanceMap(): Tensor | null {
    return this.guidance?.map ?? null;
  }

  // The first evaluation of a run has no guidance map yet and merges as ToMe does.
  evaluationKind(step: number): string {
    return step === 0 ? 'ToMe before a guidance map' : 'ranked by guidance';
  }

  planBlock(x: Tensor, call: BlockCall<undefined>): BlockPlan | undefined {
    const { place, evaluation } = call;
    const o = this.options;
    if (!mergesAt(place, evaluation, o)) return undefined;
    const g = this.usableGuidance(evaluation);
    if (!g) {
      this.fallbackPlans++;
      return this.fallback.planBlock(x, call);
    }
    const counts = this.counts(place.tokens);
    if (counts.r <= 0) return undefined;
    const d = place.downsample;
    if (Math.ceil(g.latentWidth / d) !== place.width || Math.ceil(g.latentHeight / d) !== place.height) {
      throw new Error(
        `importance: ${place.name} has a ${place.width}×${place.height} grid, not the ${g.latentWidth}×${g.latentHeight} latent pooled by ${d}`,
      );
    }
    this.importancePlans++;
    const rank = this.rankFor(g, d);
    const seed = mixSeed(o.seed, evaluation.step, place.ordinal);
    return tomesdPlan(planImportanceMerge(this.rt, x, rank, counts, seed, o.similarity), o);
  }

  endEvaluation(evaluation: Evaluation, noisePred: Tensor): void {
    this.releaseGuidance();
    if (evaluation.batch.guidance !== 'cfg') return;
    const map = this.rt.keep(guidanceMagnitude(this.rt, noisePred));
    this.guidance = {
      map,
      step: evaluation.step,
      images: evaluation.batch.images,
      latentHeight: evaluation.latentHeight,
      latentWidth: evaluation.latentWidth,
    };
  }

  dispose(): void {
    this.releaseGuidance();
    this.fallback.dispose();
  }

  /**
   * The map of an earlier evaluation of this run with the same images and latent size. A step not
   * after the map's means a new run through the same session: it starts again from ToMe.
   */
  private usableGuidance(evaluation: Evaluation): GuidanceMap | null {
    const g = this.guidance;
    if (!g || evaluation.batch.guidance !== 'cfg') return null;
    if (evaluation.step <= g.step || g.images !== evaluation.batch.images) return null;
    if (g.latentHeight !== evaluation.latentHeight || g.latentWidth !== evaluation.latentWidth) return null;
    return g;
  }

  private rankFor(g: GuidanceMap, factor: number): Tensor {
    const key = String(factor);
    let rank = this.ranks.get(key);
    if (!rank) {
      rank = this.rt.keep(rankImportance(this.rt, g.map, factor));
      this.ranks.set(key, rank);
    }
    return rank;
  }

  private releaseRanks(): void {
    for (const r of this.ranks.values()) r.dispose();
    this.ranks.clear();
  }

  private releaseGuidance(): void {
    this.releaseRanks();
    this.guidance?.map.dispose();
    this.guidance = null;
  }
}

/** The options without undefined entries, so spreading them over defaults keeps the defaults. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

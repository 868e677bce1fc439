// The GPU side of importance-based token merging (Wu et al.) for one block call: from each image's
// importance ranking to a bipartite merge that the shared ToMe machinery (merge/bipartite.ts)
// executes.
//
//   importance map [images, H, W] ──pool d×d──▶ [images, N] ──rank──▶ importance rank   (per grid)
//   importance rank ──seeded keys, rank──▶ draw rank ──▶ split: dst ⊂ pool, src = [outside pool…, pool rest…]
//   x ──cosine best match (src → dst)──▶ keys: outside-pool sources lifted first ──rank──▶ BipartiteMatch
//   planMerge(match, r): all N − pool outside-pool sources + the r − (N − pool) best-matching pool
//   sources are merged; the other pool sources stay independent.
//
// Every count is fixed on the host from N and the options, so nothing is read back.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { averagePoolImportance } from '../kernels/importance-pool.js';
import { poolDrawKeys } from '../kernels/importance-draw.js';
import { poolSplit } from '../kernels/importance-partition.js';
import { forcedFirstKeys } from '../kernels/importance-priority.js';
import { tokenNorms } from '../kernels/merge-norms.js';
import { bestMatch } from '../kernels/merge-best-match.js';
import { rankDescending } from '../kernels/merge-rank.js';
import { BipartiteMatch, planMerge, similarityOptions, type BipartiteMerge, type TokenPartition } from './bipartite.js';
import type { SimilarityPrecision } from './tomesd-blocks.js';

/** The three fractions of N that fix every count. */
export interface ImportanceFractions {
  /** Fraction of the N tokens merged away. */
  readonly ratio: number;
  /** Fraction of the N tokens in the pool of important tokens. */
  readonly poolFraction: number;
  /** Fraction of the N tokens drawn from the pool as destinations. */
  readonly dstFraction: number;
}

/** Token counts of one block (per batch row). */
export interface ImportanceCounts {
  readonly tokens: number;
  /** Merged away: N − r tokens remain. */
  readonly r: number;
  readonly pool: number;
  readonly dst: number;
  /** Sources outside the pool: always merged. */
  readonly forced: number;
  /** Pool sources that stay unmerged: N − r − dst. */
  readonly independent: number;
}

/**
 * r = ⌊N · ratio⌋ (tomesd's rule); dst = round(N · dstFraction) clamped to 1..N − r (the merged
 * sequence holds every destination); pool = round(N · poolFraction) raised to at least
 * max(dst, N − r), because the tokens outside the pool are always merged and must fit in r. So the
 * merged count is exactly N − r whatever the fractions; a too small pool grows instead.
 */
export function importanceCounts(tokens: number, f: ImportanceFractions): ImportanceCounts {
  if (!Number.isInteger(tokens) || tokens < 1) throw new Error(`importance: ${tokens} tokens`);
  const r = Math.floor(tokens * f.ratio);
  const dst = Math.min(Math.max(1, Math.round(tokens * f.dstFraction)), tokens - r);
  const pool = Math.min(tokens, Math.max(Math.round(tokens * f.poolFraction), dst, tokens - r));
  return { tokens, r, pool, dst, forced: tokens - pool, independent: tokens - r - dst };
}

/**
 * Each image's tokens by descending importance at a block's grid: map [images, H, W] averaged over
 * factor × factor cells, then ranked (ties by token index). [images, N] u32.
 */
export function rankImportance(rt: Runtime, map: Tensor, factor: number): Tensor {
  const pooled = averagePoolImportance(rt, map, factor);
  const { rank, order } = rankDescending(rt, pooled);
  pooled.dispose();
  order.dispose();
  return rank;
}

/**
 * The split of every batch row: dst = counts.dst tokens drawn (seeded) from the counts.pool most
 * important, src = [the tokens outside the pool, the pool's other tokens]. importanceRank
 * [images, N] u32; batch rows b and b + images share image b mod images.
 */
export function importancePartition(rt: Runtime, importanceRank: Tensor, batch: number, counts: ImportanceCounts, seed: number): TokenPartition {
  if (importanceRank.rank !== 2 || importanceRank.shape[1] !== counts.tokens) {
    throw new Error(`importancePartition: importance rank ${formatShape(importanceRank.shape)} is not [images, ${counts.tokens}]`);
  }
  const keys = poolDrawKeys(rt, importanceRank, counts.pool, seed);
  const { rank: drawRank, order } = rankDescending(rt, keys);
  keys.dispose();
  order.dispose();
  const { dst, src } = poolSplit(rt, drawRank, batch, counts.pool, counts.dst);
  drawRank.dispose();
  return { tokens: counts.tokens, dst, src, nDst: counts.dst, nSrc: counts.tokens - counts.dst };
}

/**
 * matchBipartite with the first `forced` sources of each row ranked before all others (by their
 * own similarity among themselves), so planMerge(match, r ≥ forced) merges them all and fills the
 * rest of r with the best-matching other sources. The match's similarity stays the plain cosine;
 * its rank/order are those of the lifted keys.
 */
export function matchForcedFirst(rt: Runtime, metric: Tensor, partition: TokenPartition, forced: number, similarity: SimilarityPrecision = 'fast'): BipartiteMatch {
  if (metric.rank !== 3 || metric.shape[1] !== partition.tokens) {
    throw new Error(`matchForcedFirst: metric ${formatShape(metric.shape)} is not [B, ${partition.tokens}, C]`);
  }
  const norms = tokenNorms(rt, metric);
  const best = bestMatch(rt, metric, norms, partition.src, partition.dst, similarityOptions(similarity));
  norms.dispose();
  const keys = forcedFirstKeys(rt, best.similarity, forced);
  const { rank, order } = rankDescending(rt, keys);
  keys.dispose();
  return new BipartiteMatch(partition, metric.shape[0]!, best.similarity, best.destination, rank, order);
}

/** The whole block: split from the importance rank, match on x [B, N, C], merge r tokens. */
export function planImportanceMerge(
  rt: Runtime,
  x: Tensor,
  importanceRank: Tensor,
  counts: ImportanceCounts,
  seed: number,
  similarity: SimilarityPrecision = 'fast',
): BipartiteMerge {
  if (counts.r < 1) throw new Error('planImportanceMerge: r = 0 merges nothing');
  const partition = importancePartition(rt, importanceRank, x.shape[0]!, counts, seed);
  const match = matchForcedFirst(rt, x, partition, counts.forced, similarity);
  return planMerge(rt, match, counts.r);
}

// Bipartite soft matching (Bolya et al., ToMe; tomesd's bipartite_soft_matching_random2d) on the
// GPU, independent of how the destinations were chosen: a split of the N tokens into destinations
// and sources, each source's most similar destination by cosine similarity, and a merge of the r
// most similar sources into their destinations (mean), with the unmerge that undoes it.
//
//   partition   tokens → dst (given as indices) + src (the rest)        partitionFromDestinations
//   match       metric [B, N, C] → per source: best similarity, best destination, rank   matchBipartite
//   r           host-known (ToMe), or from a threshold on the GPU        countAtLeastThreshold
//   plan        r → grouped sources per destination + token positions   planMerge
//   merge/unmerge                                                       BipartiteMerge
//
// Every step records GPU work only; nothing is read back. With r on the GPU the merged tensor keeps
// the capacity [B, N, C] (its first N − r rows real) and the plan carries N − r as a GPU count.
// Ordering is tomesd's: merged = [unmerged sources by descending similarity, destinations in dst
// order]; ties in similarity fall back to source index order (torch's unstable sort may differ).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { tokenNorms } from '../kernels/merge-norms.js';
import { bestMatch, type BestMatchOptions } from '../kernels/merge-best-match.js';
import type { SimilarityPrecision } from './tomesd-blocks.js';
import { rankDescending } from '../kernels/merge-rank.js';
import { countAtLeast } from '../kernels/merge-count.js';
import { groupByDestination } from '../kernels/merge-group.js';
import { mergedPositions } from '../kernels/merge-token-map.js';
import { mergeTokens } from '../kernels/merge-tokens.js';
import { unmergeTokens } from '../kernels/merge-unmerge.js';
import { complementTokens } from '../kernels/merge-complement.js';
import type { DeviceCount } from '../kernels/device-count.js';

/** A split of N tokens into destinations and sources (u32 token indices, [n] shared or [B, n] per row). */
export interface TokenPartition {
  readonly tokens: number;
  readonly dst: Tensor;
  readonly src: Tensor;
  readonly nDst: number;
  readonly nSrc: number;
}

/** A partition from host indices in a given order (e.g. tomesd's); together a permutation of 0..N. */
export function uploadPartition(rt: Runtime, tokens: number, dst: Uint32Array, src: Uint32Array): TokenPartition {
  const seen = new Uint8Array(tokens);
  for (const t of [...dst, ...src]) {
    if (t >= tokens || seen[t]) throw new Error(`uploadPartition: dst and src are not a permutation of 0..${tokens - 1} (token ${t})`);
    seen[t] = 1;
  }
  if (dst.length + src.length !== tokens) throw new Error(`uploadPartition: ${dst.length} + ${src.length} indices for ${tokens} tokens`);
  return {
    tokens,
    dst: rt.upload(dst, [dst.length], 'u32'),
    src: rt.upload(src, [src.length], 'u32'),
    nDst: dst.length,
    nSrc: src.length,
  };
}

/**
 * Destinations given as indices, sources = every other token in increasing order. Host indices
 * ([n_dst], shared by all rows) are checked and uploaded; a GPU tensor ([n_dst] or [B, n_dst] u32,
 * distinct indices, e.g. chosen by importance on the GPU) gets its complement computed on the GPU.
 */
export function partitionFromDestinations(rt: Runtime, tokens: number, dst: Uint32Array | Tensor): TokenPartition {
  if (!(dst instanceof Uint32Array)) {
    const nDst = dst.shape[dst.rank - 1] ?? 0;
    return { tokens, dst, src: complementTokens(rt, dst, tokens), nDst, nSrc: tokens - nDst };
  }
  const isDst = new Uint8Array(tokens);
  for (const t of dst) {
    if (t >= tokens || isDst[t]) throw new Error(`partitionFromDestinations: destination ${t} repeated or outside 0..${tokens - 1}`);
    isDst[t] = 1;
  }
  const src = new Uint32Array(tokens - dst.length);
  let k = 0;
  for (let t = 0; t < tokens; t++) if (!isDst[t]) src[k++] = t;
  return uploadPartition(rt, tokens, dst, src);
}

export function disposePartition(p: TokenPartition): void {
  p.dst.dispose();
  p.src.dispose();
}

/** Each source's best destination for one metric [B, N, C]; tensors [B, n_src]. */
export class BipartiteMatch {
  constructor(
    readonly partition: TokenPartition,
    readonly batch: number,
    /** f32: cosine similarity to the best destination. */
    readonly similarity: Tensor,
    /** u32: that destination, an index into partition.dst (the first one on ties). */
    readonly destination: Tensor,
    /** u32: position by descending similarity (ties by source index). */
    readonly rank: Tensor,
    /** u32: sources by descending similarity (tomesd's edge_idx). */
    readonly order: Tensor,
  ) {}

  /** Keeps the match's tensors beyond the enclosing tidy scopes (for caching across evaluations). */
  keep(rt: Runtime): this {
    for (const t of this.tensors()) rt.keep(t);
    return this;
  }

  dispose(): void {
    for (const t of this.tensors()) t.dispose();
  }

  private tensors(): Tensor[] {
    return [this.similarity, this.destination, this.rank, this.order];
  }
}

/** bestMatch's options for a similarity precision ('exact' is the fused f32 kernel). */
export function similarityOptions(similarity: SimilarityPrecision): BestMatchOptions {
  return similarity === 'exact' ? { path: 'fused' } : {};
}

/** Cosine-similarity matching of the partition's sources to its destinations on metric [B, N, C]. */
export function matchBipartite(rt: Runtime, metric: Tensor, partition: TokenPartition, similarity: SimilarityPrecision = 'fast'): BipartiteMatch {
  if (metric.rank !== 3 || metric.shape[1] !== partition.tokens) {
    throw new Error(`matchBipartite: metric ${formatShape(metric.shape)} is not [B, ${partition.tokens}, C]`);
  }
  if (partition.nDst === 0) throw new Error('matchBipartite: the partition has no destinations');
  const norms = tokenNorms(rt, metric);
  const best = bestMatch(rt, metric, norms, partition.src, partition.dst, similarityOptions(similarity));
  norms.dispose();
  const { rank, order } = rankDescending(rt, best.similarity);
  return new BipartiteMatch(partition, metric.shape[0]!, best.similarity, best.destination, rank, order);
}

/** A merge count that stays on the GPU (CA-ToMe's r), with the merged length it leaves. */
export interface MergeCount {
  /** u32 [B + 2]: per row #sources ≥ threshold, r = their maximum, then N − r. Owned by the caller. */
  readonly tensor: Tensor;
  /** Sources every row merges: the maximum over the batch rows (both CFG halves keep one length). */
  readonly r: DeviceCount;
  /** Rows of the merged sequence that are real: N − r. */
  readonly validTokens: DeviceCount;
}

/** r from a threshold, counted on the GPU: never read back, merged with by planMerge. */
export function countAtLeastThreshold(rt: Runtime, match: BipartiteMatch, threshold: number): MergeCount {
  const tensor = countAtLeast(rt, match.similarity, threshold, match.partition.tokens);
  const batch = match.batch;
  return { tensor, r: { tensor, index: batch }, validTokens: { tensor, index: batch + 1 } };
}

/**
 * A merge of r sources per row into their best destinations, and its unmerge. r is a host number
 * (exact shapes) or a MergeCount on the GPU (fixed capacity: merged tensors stay [B, N, C], and
 * validTokens says how many of their rows are real).
 */
export class BipartiteMerge {
  /** Rows per batch row of a merged tensor: N − r, or the capacity N when r is on the GPU. */
  readonly mergedTokens: number;
  /** With r on the GPU: the real merged rows N − r, on the GPU; null when r is a host number. */
  readonly validTokens: DeviceCount | null;

  constructor(
    private readonly rt: Runtime,
    readonly match: BipartiteMatch,
    readonly r: number | MergeCount,
    /** [B, max(r, 1)] u32 (r on the GPU: [B, max(n_src, 1)]) and [B, n_dst] u32: merged sources grouped by destination. */
    readonly grouped: Tensor,
    readonly segmentEnd: Tensor,
    /** [B, N] u32: each token's row in the merged sequence (always below N − r). */
    readonly positions: Tensor,
  ) {
    this.mergedTokens = match.partition.tokens - (typeof r === 'number' ? r : 0);
    this.validTokens = typeof r === 'number' ? null : r.validTokens;
  }

  /**
   * x [B, N, C] → [B, N − r, C] (r on the GPU: [B, N, C], rows past N − r zero): unmerged sources by
   * descending similarity, then destination means.
   */
  merge(x: Tensor): Tensor {
    this.check('merge', x, this.match.partition.tokens);
    const p = this.match.partition;
    const r = typeof this.r === 'number' ? this.r : this.r.r;
    return mergeTokens(this.rt, x, { src: p.src, dst: p.dst, order: this.match.order, grouped: this.grouped, segmentEnd: this.segmentEnd, r });
  }

  /** y [B, mergedTokens, C] → [B, N, C]: every token takes its own or its destination's value (rows past N − r are never read). */
  unmerge(y: Tensor): Tensor {
    this.check('unmerge', y, this.mergedTokens);
    return unmergeTokens(this.rt, y, this.positions);
  }

  /** unmerge(y) + residual in one pass. */
  unmergeAdd(y: Tensor, residual: Tensor): Tensor {
    this.check('unmergeAdd', y, this.mergedTokens);
    return unmergeTokens(this.rt, y, this.positions, residual);
  }

  /** Keeps the plan's own tensors (not the match's or the partition's) beyond the tidy scopes. */
  keep(): this {
    for (const t of this.tensors()) this.rt.keep(t);
    return this;
  }

  dispose(): void {
    for (const t of this.tensors()) t.dispose();
  }

  private tensors(): Tensor[] {
    return [this.grouped, this.segmentEnd, this.positions];
  }

  private check(what: string, t: Tensor, tokens: number): void {
    if (t.rank !== 3 || t.shape[0] !== this.match.batch || t.shape[1] !== tokens) {
      throw new Error(`BipartiteMerge.${what}: ${t} is not [${this.match.batch}, ${tokens}, C] (r = ${typeof this.r === 'number' ? this.r : 'on the GPU'})`);
    }
  }
}

/**
 * The merge of each row's r most similar sources (0 ≤ r ≤ n_src; tomesd clamps r to n_src). r from
 * countAtLeastThreshold stays on the GPU (it is at most n_src by construction); the plan then
 * refers to its tensor, which must outlive the plan.
 */
export function planMerge(rt: Runtime, match: BipartiteMatch, r: number | MergeCount): BipartiteMerge {
  const p = match.partition;
  if (typeof r === 'number' && (!Number.isInteger(r) || r < 0 || r > p.nSrc)) throw new Error(`planMerge: r = ${r} outside 0..${p.nSrc}`);
  const count = typeof r === 'number' ? r : r.r;
  const { grouped, segmentEnd } = groupByDestination(rt, match.order, match.destination, p.nDst, count);
  const positions = mergedPositions(rt, match.rank, match.destination, p.src, p.dst, count);
  return new BipartiteMerge(rt, match, r, grouped, segmentEnd, positions);
}

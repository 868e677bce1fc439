// Bipartite soft matching (Bolya et al., ToMe; tomesd's bipartite_soft_matching_random2d) on the
// GPU, independent of how the destinations were chosen: a split of the N tokens into destinations
// and sources, each source's most similar destination by cosine similarity, and a merge of the r
// most similar sources into their destinations (mean), with the unmerge that undoes it.
//
//   partition   tokens → dst (given as indices) + src (the rest)        partitionFromDestinations
//   match       metric [B, N, C] → per source: best similarity, best destination, rank   matchBipartite
//   r           host-known (ToMe), or from a threshold: countAtLeastThreshold + readMergeCounts
//   plan        r → grouped sources per destination + token positions   planMerge
//   merge/unmerge                                                       BipartiteMerge
//
// Every step records GPU work only, except readMergeCounts, the one readback (a u32 per block).
// Ordering is tomesd's: merged = [unmerged sources by descending similarity, destinations in dst
// order]; ties in similarity fall back to source index order (torch's unstable sort may differ).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { tokenNorms } from '../kernels/merge-norms.js';
import { bestMatch } from '../kernels/merge-best-match.js';
import { rankDescending } from '../kernels/merge-rank.js';
import { countAtLeast } from '../kernels/merge-count.js';
import { groupByDestination } from '../kernels/merge-group.js';
import { mergedPositions } from '../kernels/merge-token-map.js';
import { mergeTokens } from '../kernels/merge-tokens.js';
import { unmergeTokens } from '../kernels/merge-unmerge.js';
import { complementTokens } from '../kernels/merge-complement.js';

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

/** Cosine-similarity matching of the partition's sources to its destinations on metric [B, N, C]. */
export function matchBipartite(rt: Runtime, metric: Tensor, partition: TokenPartition): BipartiteMatch {
  if (metric.rank !== 3 || metric.shape[1] !== partition.tokens) {
    throw new Error(`matchBipartite: metric ${formatShape(metric.shape)} is not [B, ${partition.tokens}, C]`);
  }
  if (partition.nDst === 0) throw new Error('matchBipartite: the partition has no destinations');
  const norms = tokenNorms(rt, metric);
  const best = bestMatch(rt, metric, norms, partition.src, partition.dst);
  norms.dispose();
  const { rank, order } = rankDescending(rt, best.similarity);
  return new BipartiteMatch(partition, metric.shape[0]!, best.similarity, best.destination, rank, order);
}

/** u32 [B + 1]: per row how many sources have similarity ≥ threshold, then the maximum over rows. */
export function countAtLeastThreshold(rt: Runtime, match: BipartiteMatch, threshold: number): Tensor {
  return countAtLeast(rt, match.similarity, threshold);
}

/**
 * THE sync point of token merging: reads the merge counts r (each the maximum over its batch rows)
 * that countAtLeastThreshold left on the GPU, all in one wait. Flushes and waits for the GPU, so a
 * pipeline calls it between U-Net evaluations, never inside one; fixed-ratio methods never need it.
 */
export async function readMergeCounts(rt: Runtime, counts: readonly Tensor[]): Promise<number[]> {
  for (const c of counts) {
    if (c.dtype !== 'u32' || c.rank !== 1 || c.size < 2) throw new Error(`readMergeCounts: ${c} is not countAtLeastThreshold's u32 [B + 1]`);
  }
  // every copy is recorded and submitted before the first wait, so this is one round trip
  const reads = counts.map((c) => rt.readBytes(c.buffer, 4, (c.size - 1) * 4));
  return (await Promise.all(reads)).map((bytes) => new Uint32Array(bytes)[0]!);
}

/** A merge of r sources per row into their best destinations, and its unmerge. */
export class BipartiteMerge {
  /** Tokens per row after merging: N − r. */
  readonly mergedTokens: number;

  constructor(
    private readonly rt: Runtime,
    readonly match: BipartiteMatch,
    readonly r: number,
    /** [B, max(r, 1)] u32 and [B, n_dst] u32: merged sources grouped by destination. */
    readonly grouped: Tensor,
    readonly segmentEnd: Tensor,
    /** [B, N] u32: each token's row in the merged sequence. */
    readonly positions: Tensor,
  ) {
    this.mergedTokens = match.partition.tokens - r;
  }

  /** x [B, N, C] → [B, N − r, C]: unmerged sources by descending similarity, then destination means. */
  merge(x: Tensor): Tensor {
    this.check('merge', x, this.match.partition.tokens);
    const p = this.match.partition;
    return mergeTokens(this.rt, x, { src: p.src, dst: p.dst, order: this.match.order, grouped: this.grouped, segmentEnd: this.segmentEnd, r: this.r });
  }

  /** y [B, N − r, C] → [B, N, C]: every token takes its own or its destination's value. */
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
      throw new Error(`BipartiteMerge.${what}: ${t} is not [${this.match.batch}, ${tokens}, C] (r = ${this.r})`);
    }
  }
}

/** The merge of each row's r most similar sources (0 ≤ r ≤ n_src; tomesd clamps r to n_src). */
export function planMerge(rt: Runtime, match: BipartiteMatch, r: number): BipartiteMerge {
  const p = match.partition;
  if (!Number.isInteger(r) || r < 0 || r > p.nSrc) throw new Error(`planMerge: r = ${r} outside 0..${p.nSrc}`);
  const { grouped, segmentEnd } = groupByDestination(rt, match.rank, match.destination, p.nDst, r);
  const positions = mergedPositions(rt, match.rank, match.destination, p.src, p.dst, r);
  return new BipartiteMerge(rt, match, r, grouped, segmentEnd, positions);
}

// Plain TypeScript references for the token-merging kernels (tests/kernels/merge-*.test.ts).

/** Per row b: each source's best cosine similarity and its destination (first on ties), plus the gap to the runner-up. */
export function referenceBestMatch(
  x: Float32Array,
  [batch, tokens, channels]: readonly number[],
  src: (b: number) => ArrayLike<number>,
  dst: (b: number) => ArrayLike<number>,
): { similarity: number[]; destination: number[]; gap: number[] } {
  const similarity: number[] = [];
  const destination: number[] = [];
  const gap: number[] = [];
  const unit = (b: number, t: number) => {
    const row = x.subarray((b * tokens + t) * channels, (b * tokens + t + 1) * channels);
    const n = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    return Array.from(row, (v) => (n === 0 ? 0 : v / n));
  };
  for (let b = 0; b < batch; b++) {
    const s = src(b);
    const d = Array.from(dst(b), (t) => unit(b, t));
    for (let i = 0; i < s.length; i++) {
      const a = unit(b, s[i]!);
      let best = -Infinity;
      let second = -Infinity;
      let at = 0;
      d.forEach((v, j) => {
        const c = v.reduce((acc, w, k) => acc + w * a[k]!, 0);
        if (c > best) {
          second = best;
          best = c;
          at = j;
        } else second = Math.max(second, c);
      });
      similarity.push(best);
      destination.push(at);
      gap.push(best - second);
    }
  }
  return { similarity, destination, gap };
}

/** Stable descending rank per row, and the order (inverse). */
export function referenceRank(keys: Float32Array, batch: number, n: number): { rank: number[]; order: number[] } {
  const rank: number[] = [];
  const order: number[] = [];
  for (let b = 0; b < batch; b++) {
    const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => keys[b * n + j]! - keys[b * n + i]! || i - j);
    const r = new Array<number>(n);
    idx.forEach((i, k) => (r[i] = k));
    rank.push(...r);
    order.push(...idx);
  }
  return { rank, order };
}

/** Merged sources grouped by (destination, rank) and the per-destination run ends. */
export function referenceGroups(rank: ArrayLike<number>, dest: ArrayLike<number>, batch: number, nSrc: number, nDst: number, r: number) {
  const grouped: number[] = [];
  const segmentEnd: number[] = [];
  for (let b = 0; b < batch; b++) {
    const merged = Array.from({ length: nSrc }, (_, i) => i).filter((i) => rank[b * nSrc + i]! < r);
    merged.sort((i, j) => dest[b * nSrc + i]! - dest[b * nSrc + j]! || rank[b * nSrc + i]! - rank[b * nSrc + j]!);
    grouped.push(...(r === 0 ? [0] : merged));
    for (let j = 0; j < nDst; j++) segmentEnd.push(merged.filter((i) => dest[b * nSrc + i]! <= j).length);
  }
  return { grouped, segmentEnd };
}

/** tomesd's merge with the given indices (f32 sums in rank order), [B, n_src − r + n_dst, C]. */
export function referenceMerge(
  x: ArrayLike<number>,
  [batch, tokens, channels]: readonly number[],
  src: ArrayLike<number>,
  dst: ArrayLike<number>,
  order: ArrayLike<number>,
  dest: ArrayLike<number>,
  r: number,
): Float32Array {
  const nSrc = src.length;
  const nDst = dst.length;
  const merged = nSrc - r + nDst;
  const out = new Float32Array(batch * merged * channels);
  const at = (b: number, t: number, c: number) => x[(b * tokens + t) * channels + c]!;
  for (let b = 0; b < batch; b++) {
    for (let q = 0; q < nSrc - r; q++) {
      for (let c = 0; c < channels; c++) out[(b * merged + q) * channels + c] = at(b, src[order[b * nSrc + r + q]!]!, c);
    }
    for (let j = 0; j < nDst; j++) {
      for (let c = 0; c < channels; c++) {
        let acc = Math.fround(at(b, dst[j]!, c));
        let count = 1;
        for (let k = 0; k < r; k++) {
          const i = order[b * nSrc + k]!;
          if (dest[b * nSrc + i] === j) {
            acc = Math.fround(acc + at(b, src[i]!, c));
            count++;
          }
        }
        out[(b * merged + nSrc - r + j) * channels + c] = Math.fround(acc / count);
      }
    }
  }
  return out;
}

/** Each token's row in the merged sequence. */
export function referencePositions(rank: ArrayLike<number>, dest: ArrayLike<number>, src: ArrayLike<number>, dst: ArrayLike<number>, batch: number, r: number): number[] {
  const nSrc = src.length;
  const tokens = nSrc + dst.length;
  const pos = new Array<number>(batch * tokens).fill(-1);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < nSrc; i++) {
      const k = rank[b * nSrc + i]!;
      pos[b * tokens + src[i]!] = k >= r ? k - r : nSrc - r + dest[b * nSrc + i]!;
    }
    for (let j = 0; j < dst.length; j++) pos[b * tokens + dst[j]!] = nSrc - r + j;
  }
  return pos;
}

/** A deterministic shuffle of 0..n-1. */
export function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

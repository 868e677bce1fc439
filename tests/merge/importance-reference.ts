// TS helpers for tests/merge/importance.test.ts.

export { referenceGuidanceMagnitude, referencePool } from '../kernels/importance-reference.js';

/** Per row: each key's position in descending order (ties by index), like rankDescending. */
export function referenceRankOf(keys: ArrayLike<number>, rows: number, n: number): number[] {
  const rank: number[] = [];
  for (let b = 0; b < rows; b++) {
    const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => keys[b * n + j]! - keys[b * n + i]! || i - j);
    const r = new Array<number>(n);
    idx.forEach((i, k) => (r[i] = k));
    rank.push(...r);
  }
  return rank;
}

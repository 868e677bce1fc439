// Measures on token maps (a BlockPlan's tokenMap read back: [B, N] rows of the merged sequence):
// how much a block merged, and how much its merge pairs changed between two evaluations.
//
// A merge pair is an unordered pair of tokens of one batch row that share a merged row. This reads
// the same from every method's map (a map names rows, not which token of a group is the
// destination): for a ToMe group of one destination and k sources it is the k (source,
// destination) pairs plus the pairs of sources merged into the same destination. Two maps that put
// the same tokens together have the same pairs, whatever their row numbering.

/** Fraction of tokens merged away, 1 − (distinct rows)/N, averaged over the B batch rows. */
export function mergedFraction(rows: Uint32Array, batch: number): number {
  const tokens = tokensPerRow(rows, batch);
  let sum = 0;
  const seen = new Uint8Array(tokens);
  for (let b = 0; b < batch; b++) {
    seen.fill(0);
    let distinct = 0;
    for (let i = b * tokens; i < (b + 1) * tokens; i++) {
      const r = checkRow(rows[i]!, tokens);
      if (!seen[r]) {
        seen[r] = 1;
        distinct++;
      }
    }
    sum += 1 - distinct / tokens;
  }
  return sum / batch;
}

/** How many merge pairs a map holds over all its batch rows. */
export function mergePairCount(rows: Uint32Array, batch: number): number {
  const tokens = tokensPerRow(rows, batch);
  let pairs = 0;
  const size = new Uint32Array(tokens);
  for (let b = 0; b < batch; b++) {
    size.fill(0);
    for (let i = b * tokens; i < (b + 1) * tokens; i++) size[checkRow(rows[i]!, tokens)]!++;
    for (const n of size) pairs += choose2(n);
  }
  return pairs;
}

/**
 * Jaccard distance 1 − |A ∩ B| / |A ∪ B| between the merge pairs of two maps of one block (same B
 * and N); null stands for a block that merged nothing. 0 when neither has a pair.
 */
export function mergePairDistance(a: Uint32Array | null, b: Uint32Array | null, batch: number): number {
  if (a && b && a.length !== b.length) throw new Error(`mergePairDistance: maps of ${a.length} and ${b.length} entries`);
  const countA = a ? mergePairCount(a, batch) : 0;
  const countB = b ? mergePairCount(b, batch) : 0;
  const shared = a && b ? sharedPairs(a, b, batch) : 0;
  const union = countA + countB - shared;
  return union === 0 ? 0 : 1 - shared / union;
}

/** Pairs in both maps: tokens together in a row of each share a (row of a, row of b) cell. */
function sharedPairs(a: Uint32Array, b: Uint32Array, batch: number): number {
  const tokens = tokensPerRow(a, batch);
  let shared = 0;
  const cells = new Map<number, number>();
  for (let r = 0; r < batch; r++) {
    cells.clear();
    for (let i = r * tokens; i < (r + 1) * tokens; i++) {
      const key = checkRow(a[i]!, tokens) * tokens + checkRow(b[i]!, tokens);
      cells.set(key, (cells.get(key) ?? 0) + 1);
    }
    for (const n of cells.values()) shared += choose2(n);
  }
  return shared;
}

function choose2(n: number): number {
  return (n * (n - 1)) / 2;
}

function tokensPerRow(rows: Uint32Array, batch: number): number {
  if (!Number.isInteger(batch) || batch < 1 || rows.length % batch !== 0 || rows.length === 0) {
    throw new Error(`token map of ${rows.length} entries is not [${batch}, N]`);
  }
  return rows.length / batch;
}

function checkRow(row: number, tokens: number): number {
  // the merged sequence never has more rows than tokens
  if (row >= tokens) throw new Error(`token map row ${row} outside 0..${tokens - 1}`);
  return row;
}

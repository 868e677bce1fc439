// The error measures the conformance bars use.

/**
 * max |got − want| / max |want| (the project's relative error: normalising by the reference's
 * largest magnitude keeps near-zero entries from dominating). Infinity on a length mismatch or NaN.
 */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    const d = Math.abs(got[i]! - want[i]!);
    if (Number.isNaN(d)) return Infinity;
    err = Math.max(err, d);
  }
  return err / Math.max(scale, 1e-30);
}

/** max |a − b|: 0 means bit-for-bit equal values (Infinity on a length mismatch or NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Object.is(a[i], b[i]) ? err : Infinity;
    err = Math.max(err, d);
  }
  return err;
}

/** Positions where two id sequences differ, counting a length difference as that many positions. */
export function differingIds(got: ArrayLike<number>, want: ArrayLike<number>): number {
  const n = Math.min(got.length, want.length);
  let count = Math.abs(got.length - want.length);
  for (let i = 0; i < n; i++) if (got[i] !== want[i]) count++;
  return count;
}

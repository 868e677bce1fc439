/**
 * Max relative error as the project's bars use it: max |got - want| / max(max |want|, tiny).
 * Normalising by the reference's largest magnitude keeps near-zero entries from dominating.
 */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (Number.isNaN(d)) return Infinity;
    err = Math.max(err, d);
  }
  return err / Math.max(scale, 1e-30);
}

/** Deterministic uniform values in [lo, hi) from a 32-bit seed (mulberry32), for test inputs. */
export function seededValues(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = lo + (hi - lo) * u;
  }
  return out;
}

import type { DType } from '../../runtime/dtype.js';

/** Tolerances of the kernel bars: f32 1e-5, f16 storage with f32 accumulation 2e-3; integers exact. */
export const KERNEL_TOLERANCE: Readonly<Record<DType, number>> = { f32: 1e-5, f16: 2e-3, u32: 0 };

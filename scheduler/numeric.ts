// Host arithmetic that reproduces what diffusers computes with numpy (float64) and with 0-d torch
// tensors (float32), so the scalar coefficients land on the same values as the reference.

/** Rounds to float32, the result of a torch float32 scalar operation. */
export const f32 = Math.fround;

/** torch.sqrt / `** 0.5` on a float32 scalar (a double sqrt rounded once more is correctly rounded). */
export function sqrtF32(x: number): number {
  return Math.fround(Math.sqrt(x));
}

/** numpy's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** np.linspace(start, stop, num) in float64 (endpoint included): i·step + start, last = stop. */
export function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * np.arange(start, stop, step) for float arguments: length ceil((stop - start) / step), values
 * start, start + step, then start + i·delta with delta re-derived from those two (numpy's fill).
 */
export function npArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  if (length === 0) return [];
  const second = start + step;
  const delta = second - start;
  return Array.from({ length }, (_, i) => (i === 0 ? start : i === 1 ? second : start + i * delta));
}

/** np.interp(x, arange(len(fp)), fp) for x inside [0, len-1] (timesteps always are). */
export function npInterpUnitGrid(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (!(x >= 0 && x <= last)) throw new Error(`interpolation at ${x} outside [0, ${last}]`);
  const j = Math.min(Math.floor(x), last);
  if (j === x) return fp[j]!;
  const slope = fp[j + 1]! - fp[j]!;
  return slope * (x - j) + fp[j]!;
}

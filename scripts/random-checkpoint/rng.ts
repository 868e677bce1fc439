// A fast seeded generator for random weights: sfc32 (Chris Doty-Humphrey's small fast counting
// generator, 128-bit state, period ≥ 2^32), one independent stream per tensor so the values of a
// tensor depend only on the seed and its name, never on the order the writer asks for tensors.

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32: spreads one 32-bit seed over the generator's state words. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const TWO_POW_MINUS_24 = 2 ** -24;

export class TensorRng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** The stream for `key` (e.g. "unet/conv_in.weight") under `seed` (any safe integer). */
  constructor(seed: number, key: string) {
    const mix = { s: fnv1a(`${seed}\u0000${key}`) };
    this.a = splitmix32(mix);
    this.b = splitmix32(mix);
    this.c = splitmix32(mix);
    this.d = 1;
    // sfc32's recommended warm-up
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The next 32 random bits as an unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Fills out with U(lo, hi), 24 random bits per value (a float32's precision). */
  uniform(out: Float32Array, lo: number, hi: number): void {
    const span = (hi - lo) * TWO_POW_MINUS_24;
    for (let i = 0; i < out.length; i++) out[i] = lo + (this.next() >>> 8) * span;
  }

  /** Fills out with N(0, std²) by the Box–Muller transform (two values per pair of uniforms). */
  normal(out: Float32Array, std: number): void {
    for (let i = 0; i < out.length; i += 2) {
      // (k + 0.5)·2^-24 keeps u1 away from 0, so the logarithm stays finite
      const u1 = ((this.next() >>> 8) + 0.5) * TWO_POW_MINUS_24;
      const u2 = (this.next() >>> 8) * TWO_POW_MINUS_24;
      const r = std * Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
  }
}

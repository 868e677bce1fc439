/**
 * Packs a kernel's uniform struct. WGSL structs of 4-byte scalars are laid out in declaration
 * order, so the wrapper pushes fields in the order its WGSL struct declares them. Fields are kept
 * as 32-bit words in a plain array, copied into the command buffer's uniform arena at dispatch: a
 * typed array per dispatch cost about 4 µs of host time, the words a tenth of that.
 */
export class Uniforms {
  private readonly words: number[] = [];

  u32(...values: number[]): this {
    for (const v of values) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`uniform u32 out of range: ${v}`);
      this.push(v);
    }
    return this;
  }

  /** Two's complement, as WGSL's i32 (values wrap like DataView.setInt32). */
  i32(...values: number[]): this {
    for (const v of values) this.push(v >>> 0);
    return this;
  }

  f32(...values: number[]): this {
    for (const v of values) {
      F32[0] = v;
      this.push(F32_BITS[0]!);
    }
    return this;
  }

  /** Bytes of the struct, padded to the 16-byte multiple WGSL gives a uniform struct. */
  get byteLength(): number {
    return Math.max(16, Math.ceil(this.words.length / 4) * 16);
  }

  /** Writes the struct (padding zeroed) at word `at` of `target`. */
  writeTo(target: Uint32Array, at: number): void {
    target.set(this.words, at);
    target.fill(0, at + this.words.length, at + this.byteLength / 4);
  }

  private push(word: number): void {
    if (this.words.length === MAX_WORDS) throw new Error('uniform struct larger than its capacity');
    this.words.push(word);
  }
}

/** 256 bytes: the uniform offset alignment every device allows, and more than any kernel needs. */
const MAX_WORDS = 64;
const F32 = new Float32Array(1);
const F32_BITS = new Uint32Array(F32.buffer);

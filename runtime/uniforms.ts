/**
 * Packs a kernel's uniform struct. WGSL structs of 4-byte scalars are laid out in declaration
 * order, so the wrapper pushes fields in the order its WGSL struct declares them.
 */
export class Uniforms {
  private readonly view: DataView;
  private length = 0;

  constructor(capacityBytes = 256) {
    this.view = new DataView(new ArrayBuffer(capacityBytes));
  }

  u32(...values: number[]): this {
    for (const v of values) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`uniform u32 out of range: ${v}`);
      this.view.setUint32(this.advance(), v, true);
    }
    return this;
  }

  i32(...values: number[]): this {
    for (const v of values) this.view.setInt32(this.advance(), v, true);
    return this;
  }

  f32(...values: number[]): this {
    for (const v of values) this.view.setFloat32(this.advance(), v, true);
    return this;
  }

  /** Bytes padded to the 16-byte multiple WGSL gives a uniform struct. */
  bytes(): Uint8Array {
    const padded = Math.max(16, Math.ceil(this.length / 16) * 16);
    return new Uint8Array(this.view.buffer, 0, padded);
  }

  private advance(): number {
    const at = this.length;
    if (at + 4 > this.view.byteLength) throw new Error('uniform struct larger than its capacity');
    this.length += 4;
    return at;
  }
}

import { bytesPerElement, elementCount, formatShape, type DType } from './dtype.js';

/** Whoever hands out the buffer behind a tensor takes it back when the tensor is disposed. */
export interface TensorOwner {
  releaseTensor(t: Tensor): void;
}

/**
 * The one tensor type: a contiguous row-major array in a GPU buffer. Views (reshape) share the
 * buffer of their base and never free it.
 */
export class Tensor {
  private disposed = false;

  constructor(
    private readonly owner: TensorOwner,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    private readonly base: Tensor | null = null,
  ) {
    const need = elementCount(shape) * bytesPerElement(dtype);
    if (need > buffer.size) throw new Error(`tensor ${formatShape(shape)} ${dtype} needs ${need} bytes, buffer has ${buffer.size}`);
  }

  get size(): number {
    return elementCount(this.shape);
  }

  get byteLength(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The tensor that owns the buffer (itself unless this is a view). */
  get root(): Tensor {
    return this.base ?? this;
  }

  get isDisposed(): boolean {
    return this.disposed || (this.base?.isDisposed ?? false);
  }

  /** Storage binding covering exactly this tensor's bytes (rounded up to 4 for f16 tails). */
  binding(): GPUBufferBinding {
    this.assertLive();
    return { buffer: this.buffer, offset: 0, size: Math.ceil(this.byteLength / 4) * 4 };
  }

  /** A view with another shape of the same element count; -1 stands for the inferred dimension. */
  reshape(shape: readonly number[]): Tensor {
    this.assertLive();
    const known = shape.filter((d) => d !== -1);
    const inferredCount = shape.length - known.length;
    if (inferredCount > 1) throw new Error(`reshape ${formatShape(shape)}: at most one -1`);
    const resolved = inferredCount === 1 ? shape.map((d) => (d === -1 ? this.size / elementCount(known) : d)) : [...shape];
    if (elementCount(resolved) !== this.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`cannot reshape ${formatShape(this.shape)} to ${formatShape(shape)}`);
    }
    return new Tensor(this.owner, this.buffer, resolved, this.dtype, this.base ?? this);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.base) this.owner.releaseTensor(this);
  }

  assertLive(): void {
    if (this.isDisposed) throw new Error(`use of a disposed tensor ${formatShape(this.shape)} ${this.dtype}`);
  }

  toString(): string {
    return `Tensor${formatShape(this.shape)} ${this.dtype}`;
  }
}

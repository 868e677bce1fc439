import type { BufferPool } from './pool.js';
import type { Uniforms } from './uniforms.js';

const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST, spelled out so this loads before GPU globals exist
const CHUNK_BYTES = 64 * 1024;

interface Chunk {
  readonly buffer: GPUBuffer;
  readonly words: Uint32Array;
  /** Bytes used so far. */
  used: number;
}

/**
 * The uniform structs of one command buffer's dispatches, packed at the device's offset alignment
 * into pooled 64 KB uniform buffers and written with one writeBuffer per buffer just before the
 * submit. Host copies are kept for the next command buffer: a fresh 64 KB array per chunk was
 * garbage every flush.
 */
export class UniformArena {
  private chunks: Chunk[] = [];
  private readonly spare: Uint32Array[] = [];

  constructor(
    private readonly pool: BufferPool,
    /** minUniformBufferOffsetAlignment */
    private readonly align: number,
  ) {}

  /** Where `u` will be bound: a slot of the current chunk, or of a new one. */
  slot(u: Uniforms): GPUBufferBinding {
    const size = u.byteLength;
    let chunk = this.chunks[this.chunks.length - 1];
    let offset = chunk ? Math.ceil(chunk.used / this.align) * this.align : 0;
    if (!chunk || offset + size > CHUNK_BYTES) {
      chunk = { buffer: this.pool.acquire(CHUNK_BYTES, UNIFORM), words: this.spare.pop() ?? new Uint32Array(CHUNK_BYTES / 4), used: 0 };
      this.chunks.push(chunk);
      offset = 0;
    }
    u.writeTo(chunk.words, offset / 4);
    chunk.used = offset + size;
    return { buffer: chunk.buffer, offset, size };
  }

  /** Writes every chunk's used bytes to its buffer (queued before the submit that reads them). */
  upload(queue: GPUQueue): void {
    for (const c of this.chunks) queue.writeBuffer(c.buffer, 0, c.words, 0, Math.ceil(c.used / 16) * 4);
  }

  /** After the submit: buffers back to the pool (later writes queue behind it), host arrays kept. */
  release(): void {
    for (const c of this.chunks) {
      this.pool.release(c.buffer);
      this.spare.push(c.words);
    }
    this.chunks = [];
  }
}

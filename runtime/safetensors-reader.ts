// Reads safetensors files tensor by tensor with positioned reads: the header is parsed once and
// GPU loads stream through one reusable host chunk, so neither a tensor nor the file is ever
// held whole in host memory.

import { open, type FileHandle } from 'node:fs/promises';
import type { Runtime } from './runtime.js';
import type { Tensor } from './tensor.js';
import { formatShape, type FloatDType } from './dtype.js';
import { bf16BitsToF32, fromF16Array } from './half.js';
import { convertChunk, convertSourceBytes, type RawFloatDType } from '../kernels/convert.js';
import {
  DTYPE_BYTES,
  fail,
  headerLength,
  parseHeader,
  SafetensorsError,
  type TensorEntry,
} from './safetensors-header.js';

/** Bytes per upload: under lavapipe's 128 MiB binding limit with room, and a modest host buffer. */
const MAX_CHUNK_BYTES = 64 * 2 ** 20;
/** Chunks hold whole 8-element octets of F32 (the conversion kernel's unit), so any dtype stays aligned. */
const CHUNK_ALIGN = 32;
/** Uploads allowed in flight before reading waits for the GPU (bounds Dawn's staging memory). */
const MAX_INFLIGHT_CHUNKS = 2;

export interface OpenOptions {
  /** Bytes per readToGpu upload: a positive multiple of 32, default 64 MiB, capped by the device's binding limit. */
  readonly chunkBytes?: number;
}

interface InFlight {
  readonly done: Promise<void>;
  readonly bytes: number;
}

export class SafetensorsFile {
  private hostChunk: Uint8Array | null = null;
  private readonly inflight: InFlight[] = [];
  private inflightBytes = 0;
  // GPU loads share hostChunk, so they run one at a time.
  private gpuLoads: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly metadata: Readonly<Record<string, string>>,
    readonly entries: ReadonlyMap<string, TensorEntry>,
    private readonly chunkBytes: number,
  ) {}

  /** Opens and validates the header; throws SafetensorsError naming the file (and tensor) for every malformed case. */
  static async open(path: string, options: OpenOptions = {}): Promise<SafetensorsFile> {
    const chunkBytes = options.chunkBytes ?? MAX_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % CHUNK_ALIGN !== 0) {
      throw new RangeError(`SafetensorsFile.open: chunkBytes ${chunkBytes} must be a positive multiple of ${CHUNK_ALIGN}`);
    }
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw fail(path, `cannot open: ${(e as Error).message}`, e);
    }
    try {
      const { size } = await handle.stat();
      const prefix = new Uint8Array(Math.min(8, size));
      if (size > 0) await readExactly(handle, path, prefix, 0, 'the header length');
      const n = headerLength(path, prefix, size);
      const header = new Uint8Array(n);
      await readExactly(handle, path, header, 8, 'the header');
      const parsed = parseHeader(path, header, size);
      return new SafetensorsFile(path, handle, parsed.metadata, parsed.entries, chunkBytes);
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The tensor's header entry; throws naming the file and tensor if there is none. */
  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw fail(this.path, `no tensor "${name}" (the file has ${this.entries.size} tensors)`);
    return e;
  }

  /**
   * Reads a float tensor (F32/F16/BF16) into a new GPU tensor of `dtype`, streaming the bytes in
   * chunks of at most 64 MiB and converting on the GPU (F32→f32 and F16→f16 are plain uploads).
   * The upload may still be in flight when this resolves; later GPU work is ordered after it.
   */
  readToGpu(rt: Runtime, name: string, dtype: FloatDType): Promise<Tensor> {
    const load = this.gpuLoads.then(() => this.loadToGpu(rt, name, dtype));
    this.gpuLoads = load.catch(() => undefined);
    return load;
  }

  /** Host copy as float32 of an F32, F16 or BF16 tensor (for tests and small tensors). */
  async readFloat32(name: string): Promise<Float32Array> {
    const e = this.entry(name);
    const raw = await this.readRaw(name);
    switch (e.dtype) {
      case 'F32':
        return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
      case 'F16':
        return fromF16Array(new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2));
      case 'BF16': {
        const bits = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
        const out = new Float32Array(bits.length);
        for (let i = 0; i < bits.length; i++) out[i] = bf16BitsToF32(bits[i]!);
        return out;
      }
      default:
        throw this.wrongDType(e, 'readFloat32', 'F32, F16 or BF16');
    }
  }

  /**
   * Host copy of an integer tensor: I32 and I64 as Int32Array (I64 values must fit in 32 bits,
   * as token ids and timesteps do; anything else throws), U8 and BOOL as Uint8Array (BOOL as 0/1).
   */
  async readInts(name: string): Promise<Int32Array | Uint8Array> {
    const e = this.entry(name);
    if (e.dtype === 'U8' || e.dtype === 'BOOL') return this.readRaw(name);
    if (e.dtype !== 'I32' && e.dtype !== 'I64') throw this.wrongDType(e, 'readInts', 'I32, I64, U8 or BOOL');
    const raw = await this.readRaw(name);
    if (e.dtype === 'I32') return new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const wide = new BigInt64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
    const out = new Int32Array(wide.length);
    for (let i = 0; i < wide.length; i++) {
      const v = wide[i]!;
      if (v < -2147483648n || v > 2147483647n) {
        throw fail(this.path, `tensor "${name}": I64 value ${v} at index ${i} does not fit in 32 bits`);
      }
      out[i] = Number(v);
    }
    return out;
  }

  /** The tensor's raw little-endian bytes, in a fresh buffer. */
  async readRaw(name: string): Promise<Uint8Array> {
    const e = this.entry(name);
    this.assertOpen(name);
    const out = new Uint8Array(e.end - e.begin);
    await readExactly(this.handle, this.path, out, e.begin, `tensor "${name}"`);
    return out;
  }

  /** Waits for in-flight uploads and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.gpuLoads;
    this.closed = true;
    try {
      await this.drain(0);
    } finally {
      this.hostChunk = null;
      await this.handle.close();
    }
  }

  private async loadToGpu(rt: Runtime, name: string, dtype: FloatDType): Promise<Tensor> {
    const e = this.entry(name);
    this.assertOpen(name);
    if (dtype !== 'f32' && dtype !== 'f16') throw fail(this.path, `tensor "${name}": readToGpu loads f32 or f16, not ${String(dtype)}`);
    if (e.dtype !== 'F32' && e.dtype !== 'F16' && e.dtype !== 'BF16') throw this.wrongDType(e, 'readToGpu', 'F32, F16 or BF16');
    let out: Tensor;
    try {
      out = rt.empty(e.shape, dtype);
    } catch (err) {
      throw fail(this.path, `tensor "${name}": cannot hold it on the GPU as ${dtype}: ${(err as Error).message}`, err);
    }
    try {
      await this.streamInto(rt, e, e.dtype, out);
    } catch (err) {
      out.dispose();
      throw err;
    }
    return out;
  }

  private async streamInto(rt: Runtime, e: TensorEntry, src: RawFloatDType, out: Tensor): Promise<void> {
    const srcBytes = DTYPE_BYTES[src];
    const copyOnly = (src === 'F32' && out.dtype === 'f32') || (src === 'F16' && out.dtype === 'f16');
    const limit = Math.min(this.chunkBytes, rt.gpu.limits.maxStorageBufferBindingSize);
    const chunkBytes = Math.floor(limit / CHUNK_ALIGN) * CHUNK_ALIGN;
    const total = e.end - e.begin;
    const host = this.chunkBuffer(Math.min(chunkBytes, total));
    for (let at = 0; at < total; at += chunkBytes) {
      const bytes = Math.min(chunkBytes, total - at);
      const view = host.subarray(0, bytes);
      await readExactly(this.handle, this.path, view, e.begin + at, `tensor "${e.name}"`);
      await this.drain(MAX_INFLIGHT_CHUNKS * chunkBytes - bytes);
      if (copyOnly) {
        rt.writeBytes(out.buffer, at, view);
      } else {
        const count = bytes / srcBytes;
        const bound = convertSourceBytes(src, count);
        const staging = rt.empty([bound / 4], 'f32');
        try {
          rt.writeBytes(staging.buffer, 0, view);
          convertChunk(rt, {
            src: { buffer: staging.buffer, offset: 0, size: bound },
            srcDType: src,
            count,
            dst: out,
            dstOffset: at / srcBytes,
          });
        } finally {
          // Back to the pool at once: the next chunk's write is queued after this dispatch.
          staging.dispose();
        }
      }
      rt.flush();
      this.inflight.push({ done: rt.device.queue.onSubmittedWorkDone(), bytes });
      this.inflightBytes += bytes;
    }
  }

  /** Waits for the oldest uploads until at most `bytes` remain in flight. */
  private async drain(bytes: number): Promise<void> {
    while (this.inflight.length > 0 && this.inflightBytes > bytes) {
      const oldest = this.inflight.shift()!;
      this.inflightBytes -= oldest.bytes;
      await oldest.done;
    }
  }

  private chunkBuffer(bytes: number): Uint8Array {
    if (!this.hostChunk || this.hostChunk.byteLength < bytes) this.hostChunk = new Uint8Array(bytes);
    return this.hostChunk;
  }

  private assertOpen(name: string): void {
    if (this.closed) throw fail(this.path, `tensor "${name}": the file is closed`);
  }

  private wrongDType(e: TensorEntry, what: string, allowed: string): SafetensorsError {
    return fail(this.path, `tensor "${e.name}" is ${e.dtype} ${formatShape(e.shape)}; ${what} takes ${allowed}`);
  }
}

async function readExactly(handle: FileHandle, path: string, into: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(into, done, into.byteLength - done, position + done));
    } catch (e) {
      throw fail(path, `cannot read ${what}: ${(e as Error).message}`, e);
    }
    if (bytesRead === 0) throw fail(path, `file ended while reading ${what} (it was truncated after opening?)`);
    done += bytesRead;
  }
}

// Writes safetensors files atomically: everything goes to a temporary file beside the target,
// which is renamed over it only once complete, so a failure never leaves a half-written file.

import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fail, planHeader, type SafetensorsDType } from './safetensors-header.js';

export interface TensorToWrite {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Raw little-endian element bytes, product(shape) × dtype size of them. */
  readonly data: ArrayBufferView;
}

/** A run of zero bytes; the streaming writer leaves it as a hole, so the file is sparse there. */
export interface ZeroRun {
  readonly zeros: number;
}

export type TensorChunk = ArrayBufferView | ZeroRun;

export interface TensorToStream {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /**
   * Produces the tensor's bytes in order, chunk by chunk; called once, when the writer reaches
   * this tensor. The chunks must add up to exactly product(shape) × dtype size bytes.
   */
  readonly chunks: () => Iterable<TensorChunk> | AsyncIterable<TensorChunk>;
}

/** Writes tensors held in memory (see writeSafetensorsStreaming for files too big for that). */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const streamed: Record<string, TensorToStream> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    streamed[name] = { dtype: t.dtype, shape: t.shape, chunks: () => [bytes] };
  }
  await writeSafetensorsStreaming(path, streamed, metadata);
}

/**
 * Writes tensors whose bytes are produced on demand, so a multi-gigabyte file never sits in memory.
 * Data order and header follow the Python library (see planHeader).
 */
export async function writeSafetensorsStreaming(
  path: string,
  tensors: Readonly<Record<string, TensorToStream>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const plan = planHeader(
    path,
    Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    metadata,
  );
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle | null = await open(temp, 'wx');
  try {
    const out = new PositionedWriter(handle);
    await out.write(plan.prefix, 0);
    let position = plan.prefix.byteLength;
    for (const t of plan.tensors) {
      const end = position + t.byteLength;
      for await (const chunk of tensors[t.name]!.chunks()) {
        const length = isZeroRun(chunk) ? chunk.zeros : chunk.byteLength;
        if (!Number.isSafeInteger(length) || length < 0) throw fail(path, `tensor "${t.name}": bad chunk length ${length}`);
        if (position + length > end) {
          throw fail(path, `tensor "${t.name}": data is longer than the ${t.byteLength} bytes ${t.dtype} [${t.shape.join(', ')}] needs`);
        }
        if (!isZeroRun(chunk)) await out.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), position);
        position += length;
      }
      if (position !== end) {
        throw fail(
          path,
          `tensor "${t.name}": data has ${t.byteLength - (end - position)} bytes but ${t.dtype} [${t.shape.join(', ')}] needs ${t.byteLength}`,
        );
      }
    }
    await out.flush();
    // Trailing zero runs were skipped, not written: extend the file over them.
    await handle.truncate(plan.fileSize);
    await handle.sync();
    await handle.close();
    handle = null;
    await rename(temp, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}

function isZeroRun(c: TensorChunk): c is ZeroRun {
  return !ArrayBuffer.isView(c);
}

const COALESCE_BYTES = 1 << 20;

/** Gathers small contiguous writes (headers, biases) into one system call; large ones go straight through. */
class PositionedWriter {
  private readonly pending = new Uint8Array(COALESCE_BYTES);
  private pendingLength = 0;
  private pendingAt = 0;

  constructor(private readonly handle: FileHandle) {}

  async write(bytes: Uint8Array, position: number): Promise<void> {
    const contiguous = this.pendingLength > 0 && position === this.pendingAt + this.pendingLength;
    if (!contiguous || this.pendingLength + bytes.byteLength > COALESCE_BYTES) await this.flush();
    if (bytes.byteLength >= COALESCE_BYTES) {
      await writeAll(this.handle, bytes, position);
      return;
    }
    if (this.pendingLength === 0) this.pendingAt = position;
    this.pending.set(bytes, this.pendingLength);
    this.pendingLength += bytes.byteLength;
  }

  async flush(): Promise<void> {
    if (this.pendingLength === 0) return;
    const length = this.pendingLength;
    this.pendingLength = 0;
    await writeAll(this.handle, this.pending.subarray(0, length), this.pendingAt);
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
}

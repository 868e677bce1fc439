import { BufferPool } from './pool.js';
import { Tensor, type TensorOwner } from './tensor.js';
import { bytesPerElement, elementCount, formatShape, type DType, type FloatDType } from './dtype.js';
import { createGpu, describeGpu, type Gpu, type GpuFeatures, type GpuOptions } from './gpu.js';
import { CANDIDATES_ENV, parseCandidates, type KernelCandidate } from './candidates.js';
import { fromF16Array, toF16Array } from './half.js';
import { UniformArena } from './uniform-arena.js';
import type { Uniforms } from './uniforms.js';
import { KernelProfiler, type KernelTime } from './profiler.js';
import { BindGroupCache, type BufferEntry } from './bind-groups.js';

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST, spelled out so this loads before GPU globals exist
const MAP_READ_DST = 0x1 | 0x8; // MAP_READ | COPY_DST
const INDIRECT_STORAGE = 0x100 | STORAGE;

export type Workgroups = readonly [number, number?, number?];

export interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  /**
   * Storage buffers at @binding(1), @binding(2), ... in this order; null where the kernel does not
   * use that binding (it is then not in the kernel's layout).
   */
  readonly bindings: readonly (Tensor | GPUBufferBinding | null)[];
  /** The uniform struct at @binding(0), if the kernel has one. */
  readonly uniforms?: Uniforms;
  /** Direct workgroup counts, or a buffer of three u32 counts written by an earlier kernel. */
  readonly workgroups: Workgroups | { readonly indirect: GPUBuffer; readonly offset?: number };
}

export interface RuntimeOptions extends GpuOptions {
  /** Kernel candidates to switch on (see candidates.ts); default: WEBGPU_DIFFUSION_CANDIDATES. */
  readonly candidates?: readonly KernelCandidate[];
}

/**
 * Owns the device, the buffer pool and the command stream. Kernels record dispatches into one
 * open compute pass; nothing reaches the GPU until flush(), so a whole U-Net pass is one command
 * buffer and the CPU never waits inside the denoising loop.
 */
export class Runtime implements TensorOwner {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly features: GpuFeatures;
  /** Compiled pipelines by WGSL source, then label. */
  private readonly pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  /** Pipelines whose label is their key (see pipeline()). */
  private readonly pipelinesByLabel = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniforms: UniformArena;
  private readonly scopes: Set<Tensor>[] = [];
  private readonly errors: string[] = [];
  private dispatchCount = 0;
  private profiler: KernelProfiler | null = null;
  private readonly bindGroups: BindGroupCache;

  private constructor(
    readonly gpu: Gpu,
    /** Kernel candidates switched on for this runtime (candidates.ts). */
    readonly candidates: ReadonlySet<KernelCandidate>,
  ) {
    this.device = gpu.device;
    this.features = gpu.features;
    this.pool = new BufferPool(this.device);
    this.bindGroups = new BindGroupCache(this.device);
    this.uniforms = new UniformArena(this.pool, gpu.limits.minUniformBufferOffsetAlignment);
    this.device.addEventListener('uncapturederror', (ev) => {
      this.errors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
  }

  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    // Checked before the device exists, so a misspelt candidate fails at once.
    const candidates = options.candidates ? parseCandidates(options.candidates, 'candidates') : parseCandidates(process.env[CANDIDATES_ENV]);
    return new Runtime(await createGpu(options), candidates);
  }

  /** The device line scripts print, with the kernel candidates switched on, if any. */
  describe(): string {
    const on = [...this.candidates];
    return describeGpu(this.gpu) + (on.length ? `; kernel candidates: ${on.join(', ')}` : '');
  }

  /** Storage dtype for activations: f16 where the device has it, unless asked otherwise. */
  defaultDType(requested: FloatDType | 'auto' = 'auto'): FloatDType {
    if (requested === 'f16' && !this.features.f16) throw new Error('this device has no shader-f16; use --dtype f32');
    if (requested !== 'auto') return requested;
    return this.features.f16 ? 'f16' : 'f32';
  }

  // ---- tensors ----

  empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`bad tensor shape ${formatShape(shape)}`);
    const bytes = Math.max(4, Math.ceil((elementCount(shape) * bytesPerElement(dtype)) / 4) * 4);
    if (bytes > this.gpu.limits.maxStorageBufferBindingSize) {
      throw new Error(
        `tensor ${formatShape(shape)} ${dtype} is ${bytes} bytes, over this device's storage binding limit ` +
          `(${this.gpu.limits.maxStorageBufferBindingSize}); use a smaller image or tiling`,
      );
    }
    const t = new Tensor(this, this.pool.acquire(bytes, STORAGE), shape, dtype);
    this.scopes[this.scopes.length - 1]?.add(t);
    return t;
  }

  zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const t = this.empty(shape, dtype);
    this.clear(t);
    return t;
  }

  /** Uploads host values, converting to the tensor's dtype (f16 rounds to nearest even). */
  upload(data: ArrayLike<number> | Float32Array | Uint16Array | Uint32Array, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    if (data.length !== elementCount(shape)) {
      throw new Error(`upload: ${data.length} values for shape ${formatShape(shape)}`);
    }
    const t = this.empty(shape, dtype);
    this.writeTensor(t, data);
    return t;
  }

  /** Writes host values into an existing tensor (f16 from numbers, or raw f16 bits as Uint16Array). */
  writeTensor(t: Tensor, data: ArrayLike<number> | Float32Array | Uint16Array | Uint32Array): void {
    t.assertLive();
    let bytes: ArrayBufferView;
    if (t.dtype === 'f32') bytes = data instanceof Float32Array ? data : Float32Array.from(data);
    else if (t.dtype === 'u32') bytes = data instanceof Uint32Array ? data : Uint32Array.from(data);
    else bytes = data instanceof Uint16Array ? data : toF16Array(data);
    this.writeBytes(t.buffer, 0, bytes);
  }

  /** Raw write into a buffer; pending recorded work is flushed first so the write cannot overtake it. */
  writeBytes(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.flush();
    const len = data.byteLength;
    const src = new Uint8Array(data.buffer, data.byteOffset, len);
    if (len % 4 === 0) {
      this.device.queue.writeBuffer(buffer, offset, src);
    } else {
      const padded = new Uint8Array(Math.ceil(len / 4) * 4);
      padded.set(src);
      this.device.queue.writeBuffer(buffer, offset, padded);
    }
  }

  /** Reads a tensor back as float32 (flushes and waits: never call this inside the denoising loop). */
  async read(t: Tensor): Promise<Float32Array> {
    const raw = await this.readBytes(t.buffer, t.byteLength);
    if (t.dtype === 'u32') return Float32Array.from(new Uint32Array(raw));
    return t.dtype === 'f32' ? new Float32Array(raw) : fromF16Array(new Uint16Array(raw));
  }

  /** Reads a u32 tensor back exactly (indices, counters). */
  async readU32(t: Tensor): Promise<Uint32Array> {
    if (t.dtype !== 'u32') throw new Error(`readU32 of a ${t.dtype} tensor`);
    return new Uint32Array(await this.readBytes(t.buffer, t.byteLength));
  }

  async readBytes(buffer: GPUBuffer, byteLength: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.pool.acquire(size, MAP_READ_DST);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    const copy = staging.getMappedRange(0, size).slice(0, byteLength);
    staging.unmap();
    this.pool.release(staging);
    this.throwErrors();
    return copy;
  }

  releaseTensor(t: Tensor): void {
    this.pool.release(t.buffer);
  }

  /** A buffer for indirect dispatch arguments or GPU-side counters. */
  indirectBuffer(bytes: number): GPUBuffer {
    return this.pool.acquire(bytes, INDIRECT_STORAGE);
  }

  releaseBuffer(buffer: GPUBuffer): void {
    this.pool.release(buffer);
  }

  /**
   * Runs fn and disposes every tensor it created except those it returns (a tensor, or an array
   * or object of them) and those passed to keep().
   */
  tidy<R>(fn: () => R): R {
    const scope = new Set<Tensor>();
    this.scopes.push(scope);
    let result: R;
    try {
      result = fn();
    } catch (e) {
      for (const t of scope) t.dispose();
      throw e;
    } finally {
      this.scopes.pop();
    }
    const survivors = new Set<Tensor>();
    collectTensors(result, survivors);
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of scope) {
      if (survivors.has(t)) parent?.add(t);
      else t.dispose();
    }
    return result;
  }

  /**
   * Runs one iteration of a loop that records the same work every time (a denoising step): its
   * buffers are matched by position to the previous iteration of `label`, so its dispatches bind
   * the same buffers and reuse their cached bind groups (BufferPool's replays). Not nested.
   */
  iteration<R>(label: string, fn: () => R): R {
    this.pool.beginReplay(label);
    let completed = false;
    try {
      const result = fn();
      completed = true;
      return result;
    } finally {
      this.pool.endReplay(completed);
    }
  }

  /** Takes a tensor out of the enclosing tidy scopes so it outlives them. */
  keep<T extends Tensor>(t: T): T {
    for (const s of this.scopes) s.delete(t);
    return t;
  }

  // ---- kernels ----

  /**
   * Compiles (once per distinct source) a compute pipeline with entry point `main`. Given a
   * function instead of the source, the label alone is the cache key (it must name everything the
   * source depends on) and the source is built only the first time: wrappers on the denoising loop's
   * path pass one, so recording a step does not rebuild and rehash kilobytes of WGSL per dispatch.
   */
  pipeline(label: string, code: string | (() => string)): GPUComputePipeline {
    if (typeof code === 'function') {
      let p = this.pipelinesByLabel.get(label);
      if (!p) {
        p = this.pipeline(label, code());
        this.pipelinesByLabel.set(label, p);
      }
      return p;
    }
    let byLabel = this.pipelines.get(code);
    if (!byLabel) this.pipelines.set(code, (byLabel = new Map()));
    let p = byLabel.get(label);
    if (!p) {
      const module = this.device.createShaderModule({ label, code });
      p = this.device.createComputePipeline({ label, layout: 'auto', compute: { module, entryPoint: 'main' } });
      byLabel.set(label, p);
    }
    return p;
  }

  dispatch(d: Dispatch): void {
    const entries: BufferEntry[] = [];
    if (d.uniforms) entries.push({ binding: 0, ...bufferEntry(this.uniforms.slot(d.uniforms)) });
    d.bindings.forEach((b, i) => {
      if (b) entries.push({ binding: i + 1, ...bufferEntry(b instanceof Tensor ? b.binding() : b) });
    });
    const bindGroup = this.bindGroups.get(d.pipeline, entries);
    const w = d.workgroups;
    const direct = 'indirect' in w ? null : (w as Workgroups);
    if (direct) {
      const [x, y = 1, z = 1] = direct;
      const max = this.gpu.limits.maxComputeWorkgroupsPerDimension;
      if (x > max || y > max || z > max) throw new Error(`${d.pipeline.label}: dispatch ${x}x${y}x${z} over the limit ${max}`);
      if (x === 0 || y === 0 || z === 0) return;
    }
    if (this.profiler) {
      this.endPass();
      this.pass = this.commandEncoder().beginComputePass({ timestampWrites: this.profiler.passTimestamps(d.pipeline.label) });
    }
    const pass = this.computePass();
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, bindGroup);
    if (direct) pass.dispatchWorkgroups(direct[0], direct[1] ?? 1, direct[2] ?? 1);
    else {
      const indirect = w as { readonly indirect: GPUBuffer; readonly offset?: number };
      pass.dispatchWorkgroupsIndirect(indirect.indirect, indirect.offset ?? 0);
    }
    this.dispatchCount++;
    if (this.profiler) this.endPass();
  }

  /**
   * Times every following dispatch on the GPU (timestamp queries, one pass per dispatch) until
   * stopProfile(). For profiles, not for timed runs: separate passes stop neighbouring kernels overlapping.
   */
  startProfile(): void {
    if (!this.features.timestampQuery) throw new Error('kernel profiles need the timestamp-query feature, which this device lacks');
    if (this.profiler) throw new Error('a kernel profile is already open');
    this.profiler = new KernelProfiler(this.device);
  }

  /** Ends the profile: each dispatch's label and GPU time, in recording order (flushes and waits). */
  async stopProfile(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('stopProfile without startProfile');
    this.profiler = null;
    this.endPass();
    const read = profiler.resolve(this.commandEncoder());
    this.flush();
    const times = await read();
    this.throwErrors();
    return times;
  }

  clear(t: Tensor): void {
    t.assertLive();
    this.endPass();
    this.commandEncoder().clearBuffer(t.buffer, 0, Math.ceil(t.byteLength / 4) * 4);
  }

  copy(src: Tensor, dst: Tensor): void {
    if (src.byteLength !== dst.byteLength) throw new Error(`copy ${src} → ${dst}: sizes differ`);
    this.copyBuffer(src.buffer, 0, dst.buffer, 0, Math.ceil(src.byteLength / 4) * 4);
  }

  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    this.uniforms.upload(this.device.queue);
    this.device.queue.submit([this.encoder.finish()]);
    this.uniforms.release();
    this.encoder = null;
  }

  /** Flushes and waits for the GPU; throws any validation error the device reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwErrors();
  }

  get dispatches(): number {
    return this.dispatchCount;
  }

  /** Bind groups created so far; dispatches beyond this count reused a cached one. */
  get bindGroupsCreated(): number {
    return this.bindGroups.createdCount;
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    this.gpu.destroy();
  }

  private throwErrors(): void {
    if (this.errors.length === 0) return;
    const all = this.errors.splice(0);
    throw new Error(`WebGPU reported ${all.length} error(s):\n${all.join('\n')}`);
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass());
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }
}

/** A binding with its offset and size spelled out (the whole buffer when absent). */
function bufferEntry(b: GPUBufferBinding): Omit<BufferEntry, 'binding'> {
  const offset = b.offset ?? 0;
  return { buffer: b.buffer, offset, size: b.size ?? b.buffer.size - offset };
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (value instanceof Tensor) {
    into.add(value.root);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectTensors(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, depth + 1);
  }
}

/**
 * Reuses GPU buffers by size class so a denoising loop allocates nothing after its first step.
 * Freed buffers go back to the pool at once: the single queue runs work in submission order and
 * Dawn puts barriers between dispatches, so a later writer can never overtake an earlier reader.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private liveBytes = 0;
  private pooledBytes = 0;
  private peak = 0;
  private created = 0;

  constructor(private readonly device: GPUDevice) {}

  /** Rounds up to a size class: powers of two split into eighths, so waste stays under 12.5%. */
  static sizeClass(bytes: number): number {
    const b = Math.max(256, Math.ceil(bytes / 16) * 16);
    if (b <= 4096) return 2 ** Math.ceil(Math.log2(b));
    const top = 2 ** Math.floor(Math.log2(b));
    const step = top / 8;
    return Math.ceil(b / step) * step;
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    const reused = list?.pop();
    this.liveBytes += size;
    this.peak = Math.max(this.peak, this.liveBytes + this.pooledBytes);
    if (reused) {
      this.pooledBytes -= size;
      return reused;
    }
    this.created++;
    this.peak = Math.max(this.peak, this.liveBytes + this.pooledBytes);
    return this.device.createBuffer({ size, usage });
  }

  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.liveBytes -= buffer.size;
    this.pooledBytes += buffer.size;
  }

  /** Destroys the idle buffers (e.g. between image sizes); live ones are untouched. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }

  stats(): { liveBytes: number; pooledBytes: number; peakBytes: number; buffersCreated: number } {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, peakBytes: this.peak, buffersCreated: this.created };
  }
}

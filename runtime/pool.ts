/**
 * Reuses GPU buffers by size class so a denoising loop allocates nothing after its first step.
 * Freed buffers go back to the pool at once: the single queue runs work in submission order and
 * Dawn puts barriers between dispatches, so a later writer can never overtake an earlier reader.
 *
 * Within a replay (beginReplay/endReplay, one iteration of a loop that records the same work every
 * time) the n-th acquisition of a size class gets the buffer the previous replay of that label got
 * n-th, when that buffer is free. Plain LIFO reuse hands the same work other buffers from one
 * iteration to the next (tensors that live across iterations, like a scheduler's history, rotate
 * through the free lists), and every dispatch on another buffer needs a new bind group: tens of
 * microseconds of host time each, for most of a U-Net pass's dispatches.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  /** The buffers each replay label got last time, per size class in acquisition order. */
  private readonly replays = new Map<string, ReadonlyMap<string, readonly GPUBuffer[]>>();
  private replay: Replay | null = null;
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
    const reused = list && (this.replay ? this.replay.take(key, list) : list.pop());
    this.liveBytes += size;
    let buffer: GPUBuffer;
    if (reused) {
      this.pooledBytes -= size;
      buffer = reused;
    } else {
      this.created++;
      buffer = this.device.createBuffer({ size, usage });
    }
    this.peak = Math.max(this.peak, this.liveBytes + this.pooledBytes);
    this.replay?.record(key, buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.liveBytes -= buffer.size;
    this.pooledBytes += buffer.size;
  }

  /**
   * Starts a replay of `label`: until endReplay(), acquisitions are matched by position to the
   * previous replay of the same label (see the class comment). Replays do not nest.
   */
  beginReplay(label: string): void {
    if (this.replay) throw new Error(`buffer pool: replay "${label}" started inside replay "${this.replay.label}"`);
    this.replay = new Replay(label, this.replays.get(label) ?? new Map());
  }

  /** Ends the replay; `completed` false (an iteration that threw) keeps the previous order. */
  endReplay(completed = true): void {
    if (this.replay && completed) this.replays.set(this.replay.label, this.replay.current);
    this.replay = null;
  }

  /** Destroys the idle buffers (e.g. between image sizes); live ones are untouched. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.replays.clear();
    this.pooledBytes = 0;
  }

  stats(): { liveBytes: number; pooledBytes: number; peakBytes: number; buffersCreated: number } {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, peakBytes: this.peak, buffersCreated: this.created };
  }
}

/**
 * One replay in progress: the previous order, what is handed out now, and what is still to come.
 * Positions count per size class, so work that one iteration adds or drops (a merge step that
 * runs only some evaluations) shifts only its own classes.
 */
class Replay {
  readonly current = new Map<string, GPUBuffer[]>();
  /** How many later positions of the previous order ask for each buffer. */
  private readonly ahead = new Map<GPUBuffer, number>();

  constructor(
    readonly label: string,
    private readonly previous: ReadonlyMap<string, readonly GPUBuffer[]>,
  ) {
    for (const list of previous.values()) for (const b of list) this.ahead.set(b, (this.ahead.get(b) ?? 0) + 1);
  }

  /**
   * Takes this position's buffer from the free list of size class `key`: the one the previous
   * order had here if it is free, else the topmost free buffer no later position asks for (so one
   * held buffer does not push every later acquisition off its own), else the top.
   */
  take(key: string, list: GPUBuffer[]): GPUBuffer | undefined {
    const wanted = this.previous.get(key)?.[this.current.get(key)?.length ?? 0];
    if (wanted) {
      const left = this.ahead.get(wanted)! - 1;
      if (left) this.ahead.set(wanted, left);
      else this.ahead.delete(wanted);
    }
    let at = wanted ? list.lastIndexOf(wanted) : -1;
    for (let i = list.length - 1; at < 0 && i >= 0; i--) if (!this.ahead.has(list[i]!)) at = i;
    return at < 0 ? list.pop() : list.splice(at, 1)[0];
  }

  record(key: string, buffer: GPUBuffer): void {
    let list = this.current.get(key);
    if (!list) this.current.set(key, (list = []));
    list.push(buffer);
  }
}

// GPU time per kernel from timestamp queries. While a profile is open, the runtime records every
// dispatch in a compute pass of its own whose begin and end write timestamps, so each kernel's
// duration is measured on the GPU, without CPU waits. Separate passes cost a little (no overlap
// between neighbouring dispatches), so profile a run apart from the runs that are timed.

const QUERIES_PER_SET = 4096; // two per dispatch

interface QueryBlock {
  readonly set: GPUQuerySet;
  readonly labels: string[];
}

/** One kernel call's GPU time. */
export interface KernelTime {
  readonly label: string;
  readonly ns: number;
}

/** Collects timestamp pairs for a runtime's dispatches; made by Runtime.startProfile(). */
export class KernelProfiler {
  private readonly blocks: QueryBlock[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** The timestampWrites for the next dispatch's pass. */
  passTimestamps(label: string): GPUComputePassTimestampWrites {
    let block = this.blocks[this.blocks.length - 1];
    if (!block || block.labels.length * 2 === QUERIES_PER_SET) {
      block = { set: this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET }), labels: [] };
      this.blocks.push(block);
    }
    const i = block.labels.length;
    block.labels.push(label);
    return { querySet: block.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the copies of every timestamp into one readable buffer; returns how to read them once submitted. */
  resolve(encoder: GPUCommandEncoder): () => Promise<KernelTime[]> {
    const blocks = this.blocks.splice(0);
    const bytes = Math.max(8, blocks.length * QUERIES_PER_SET * 8);
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readable = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    blocks.forEach((b, i) => encoder.resolveQuerySet(b.set, 0, b.labels.length * 2, resolved, i * QUERIES_PER_SET * 8));
    encoder.copyBufferToBuffer(resolved, 0, readable, 0, bytes);
    return async () => {
      await readable.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(readable.getMappedRange().slice(0));
      readable.unmap();
      for (const buffer of [resolved, readable]) buffer.destroy();
      const times: KernelTime[] = [];
      blocks.forEach((b, i) => {
        b.labels.forEach((label, j) => {
          const at = i * QUERIES_PER_SET + 2 * j;
          const begin = stamps[at]!;
          const end = stamps[at + 1]!;
          // a pass the driver reports out of order (or not at all) counts as zero, not as 2^64 ns
          times.push({ label, ns: end > begin ? Number(end - begin) : 0 });
        });
        b.set.destroy();
      });
      return times;
    };
  }
}

/** The kernel family of a pipeline label: its first word without dtype/width suffixes ("linear", "attention", "merge_tokens"). */
export function kernelFamily(label: string): string {
  const word = label.split(' ')[0]!.replace('.wgsl', '').replace(/-/g, '_');
  return word.replace(/_(f16|f32|u32|w\d+|c\d+|t\d+)(_.*)?$/, '');
}

/** Token-merging kernels (merge/ plug-ins; the bucket sort serves only them), to report their share of a step. */
export function isMergeKernel(family: string): boolean {
  return /^(merge|toma|importance|bucket_sort)_/.test(family);
}

export interface FamilyTotal {
  readonly family: string;
  readonly calls: number;
  readonly ms: number;
}

/** Kernel times summed per family, largest first. */
export function totalsByFamily(times: readonly KernelTime[]): FamilyTotal[] {
  const sums = new Map<string, { calls: number; ns: number }>();
  for (const t of times) {
    const family = kernelFamily(t.label);
    const s = sums.get(family) ?? { calls: 0, ns: 0 };
    s.calls++;
    s.ns += t.ns;
    sums.set(family, s);
  }
  return [...sums].map(([family, s]) => ({ family, calls: s.calls, ms: s.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
}

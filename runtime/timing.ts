import type { Runtime } from './runtime.js';
import { withGpuWaitMode } from './gpu-wait.js';

export interface GpuTiming {
  /** Median milliseconds per call over the measured batches. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly iterations: number;
}

export interface TimingOptions {
  readonly warmup?: number;
  /** Calls per batch; default: grown until a batch takes minBatchMs. */
  readonly batch?: number;
  readonly repeats?: number;
  readonly minBatchMs?: number;
}

/**
 * Times GPU work by wall clock around whole batches: `batch` calls recorded, submitted in
 * SUBMITS_PER_BATCH command buffers, waited for; per-call time is the batch time over its size.
 * Batches amortise submission and wake-up latency, which matters for kernels of tens of
 * microseconds; submitting in parts lets the GPU start while the host records the rest (as the
 * pipeline's evaluations do), where one command buffer made it wait for the whole recording.
 * Waits spin (gpu-wait.ts) so a timer period of wake-up latency does not land in the figures.
 */
export function timeGpu(
  rt: Runtime,
  run: () => void,
  options: TimingOptions = {},
): Promise<GpuTiming> {
  return withGpuWaitMode('spin', () => timeBatches(rt, run, options));
}

/** Command buffers per timed batch. */
const SUBMITS_PER_BATCH = 8;

async function timeBatches(rt: Runtime, run: () => void, options: TimingOptions): Promise<GpuTiming> {
  const warmup = options.warmup ?? 2;
  for (let i = 0; i < warmup; i++) run();
  await rt.sync();
  // Grow the batch until one takes long enough to time reliably.
  let batch = options.batch ?? 1;
  const minBatchMs = options.minBatchMs ?? 50;
  if (options.batch === undefined) {
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < batch; i++) run();
      await rt.sync();
      const ms = performance.now() - t0;
      if (ms >= minBatchMs || batch >= 4096) break;
      batch *= Math.min(16, Math.max(2, Math.ceil(minBatchMs / Math.max(ms, 0.01))));
    }
  }
  const samples: number[] = [];
  const part = Math.max(1, Math.ceil(batch / SUBMITS_PER_BATCH));
  for (let r = 0; r < (options.repeats ?? 5); r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) {
      run();
      if ((i + 1) % part === 0) rt.flush();
    }
    await rt.sync();
    samples.push((performance.now() - t0) / batch);
  }
  return summary(samples, batch * samples.length);
}

function summary(samples: number[], iterations: number): GpuTiming {
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)]!, minMs: samples[0]!, iterations };
}

/**
 * GPU time per call from timestamp queries (Runtime.startProfile): each dispatch a call records
 * is timed from the start to the end of its own compute pass, so host recording, submission and
 * wake-up latency are left out (timeGpu's batches include whatever of them the GPU waits for).
 * Null where the device lacks timestamp-query.
 */
export async function timeKernelsOnGpu(rt: Runtime, run: () => void, calls = 20): Promise<GpuTiming | null> {
  if (!rt.features.timestampQuery) return null;
  run();
  await rt.sync();
  rt.startProfile();
  for (let i = 0; i < calls; i++) run();
  const times = await rt.stopProfile();
  // Every call records the same dispatches; sum each call's.
  const per = times.length / calls;
  const samples: number[] = [];
  if (Number.isInteger(per) && per > 0) {
    for (let c = 0; c < calls; c++) samples.push(times.slice(c * per, (c + 1) * per).reduce((s, k) => s + k.ns, 0) / 1e6);
  } else {
    samples.push(times.reduce((s, k) => s + k.ns, 0) / 1e6 / calls);
  }
  return summary(samples, calls);
}

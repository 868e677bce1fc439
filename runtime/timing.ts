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
 * Times GPU work by wall clock around whole batches: `batch` calls recorded into one command
 * buffer, submitted, waited for; per-call time is the batch time over its size. Batches amortise
 * submission and wake-up latency, which matters for kernels of tens of microseconds. Waits spin
 * (gpu-wait.ts) so a timer period of wake-up latency does not land in the figures.
 */
export function timeGpu(
  rt: Runtime,
  run: () => void,
  options: TimingOptions = {},
): Promise<GpuTiming> {
  return withGpuWaitMode('spin', () => timeBatches(rt, run, options));
}

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
  for (let r = 0; r < (options.repeats ?? 5); r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) run();
    await rt.sync();
    samples.push((performance.now() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)]!, minMs: samples[0]!, iterations: batch * samples.length };
}

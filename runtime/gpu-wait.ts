/**
 * How the process waits for the GPU.
 *
 * While any dawn.node promise is pending (mapAsync, onSubmittedWorkDone, ...), dawn.node processes
 * its events in a tick that it re-queues through the global setImmediate after every run, so the
 * main thread spins at a full core for the whole wait. On lavapipe that core is taken from the
 * shader threads doing the work (about 40 % more CPU time and 15–20 % more wall time on 2 cores),
 * and anywhere it is a core burnt while the GPU computes, and garbage whose collection pauses the
 * thread that records the next step (4.5 s of GC in a 31 s lavapipe benchmark). In 'sleep' mode, the default, the first
 * tick of a wait still runs at once (the result may already be there) and each following tick
 * runs a timer period (1 ms) later; 'spin' keeps dawn.node's behaviour, for wall-clock timings of
 * short GPU work, where a millisecond of wake-up latency would show.
 *
 * dawn.node's tick is recognised as an anonymous native function (JS functions show their source,
 * bound ones are named "bound …"): every other caller gets the original setImmediate untouched.
 * Another addon queueing anonymous native callbacks the same way would be paced alike (none is
 * known); if a later dawn.node names its tick, waits simply spin again, and the test says so.
 */
export type GpuWaitMode = 'sleep' | 'spin';

/** Sets the mode for the whole process when the runtime starts (A/B runs without code changes). */
export const GPU_WAIT_ENV = 'WEBGPU_DIFFUSION_GPU_WAIT';

export interface GpuWaitStats {
  /** dawn.node event ticks run at once (spin mode, or the first tick of a wait). */
  readonly immediate: number;
  /** Ticks deferred by a timer period. */
  readonly deferred: number;
}

const SLEEP_MS = 1;

let mode: GpuWaitMode = 'sleep';
let installed = false;
let insideTick = false;
let immediate = 0;
let deferred = 0;

export function setGpuWaitMode(next: GpuWaitMode): void {
  if (next !== 'sleep' && next !== 'spin') throw new Error(`GPU wait mode (${GPU_WAIT_ENV}) must be 'sleep' or 'spin', not ${String(next)}`);
  mode = next;
}

export function gpuWaitMode(): GpuWaitMode {
  return mode;
}

/** Counts since the process started, for tests and diagnostics. */
export function gpuWaitStats(): GpuWaitStats {
  return { immediate, deferred };
}

/** Runs fn with the given wait mode, then restores the previous one. */
export async function withGpuWaitMode<R>(temporary: GpuWaitMode, fn: () => Promise<R>): Promise<R> {
  const previous = mode;
  setGpuWaitMode(temporary);
  try {
    return await fn();
  } finally {
    mode = previous;
  }
}

function isDawnTick(fn: unknown): fn is () => void {
  return typeof fn === 'function' && fn.name === '' && Function.prototype.toString.call(fn).includes('[native code]');
}

/** Wraps the global setImmediate once per process (createGpu calls it before making a device). */
export function installGpuWait(): void {
  if (installed) return;
  const fromEnv = process.env[GPU_WAIT_ENV];
  if (fromEnv) setGpuWaitMode(fromEnv as GpuWaitMode);
  installed = true;
  const original = globalThis.setImmediate;
  const wrapped = function setImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]) {
    if (!isDawnTick(callback)) return original(callback, ...args);
    const run = () => {
      insideTick = true;
      try {
        callback();
      } finally {
        insideTick = false;
      }
    };
    // A tick queued from inside a tick means the wait goes on; one queued from anywhere else starts it.
    if (mode === 'spin' || !insideTick) {
      immediate++;
      return original(run);
    }
    deferred++;
    return setTimeout(run, SLEEP_MS);
  };
  // Keeps util.promisify(setImmediate) and friends working (Node hangs them on the function).
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'name' || key === 'length' || key === 'prototype') continue;
    Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  globalThis.setImmediate = wrapped as typeof globalThis.setImmediate;
}

// The denoising loop of StableDiffusionPipeline: per scheduler evaluation one U-Net pass on the
// batch [uncond…, cond…] (classifier-free guidance), the guidance combine, and the scheduler step,
// all recorded on the GPU. Nothing is read back inside the loop: the CPU records evaluation i+1
// while the GPU runs evaluation i, and waits (on a queue fence, never a readback) only to stay at
// most `inFlight` evaluations ahead — which is also when progress is reported and the abort signal
// checked, so a progress bar shows what the GPU has finished and an abort stops within a step or two.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { axpby } from '../kernels/scale.js';
import { cast } from '../kernels/layout.js';
import { concatChannels } from '../kernels/concat.js';
import { crop2d } from '../kernels/crop.js';
import type { Scheduler } from '../scheduler/types.js';
import type { UNet } from '../unet/unet.js';
import type { AttentionHooks } from '../unet/hooks.js';

/** Thrown (a rejected promise) when a generation's AbortSignal fires; everything it held is freed. */
export class AbortError extends Error {
  constructor(readonly reason?: unknown) {
    super(reason instanceof Error ? `generation aborted: ${reason.message}` : 'generation aborted', { cause: reason });
    this.name = 'AbortError';
  }
}

/** Throws an AbortError if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason);
}

/**
 * Sees the latents at a step: -1 for the initial latents, i after evaluation i. Only for tests and
 * analysis: the loop waits for the callback, and reading the tensor (rt.read) syncs the GPU every
 * step. The tensor is valid only during the call.
 */
export type StepInspector = (step: number, latents: Tensor) => void | Promise<void>;

export interface DenoiseProfile {
  /** Milliseconds in U-Net passes including the guidance combine (GPU synced after each). */
  unetMs: number;
  /** Milliseconds in scheduler steps (GPU synced after each). */
  schedulerMs: number;
}

export interface DenoiseJob {
  readonly rt: Runtime;
  readonly unet: UNet;
  readonly scheduler: Scheduler;
  /** Initial latents [n, C, h, w] f32, already multiplied by initNoiseSigma. Not consumed. */
  readonly latents: Tensor;
  /** Text embeddings: [2n, L, D] as [uncond…, cond…] with guidance, else [n, L, D]. */
  readonly context: Tensor;
  /** Classifier-free guidance scale; guidance is used when the context has 2n rows. */
  readonly guidanceScale: number;
  readonly hooks?: AttentionHooks<unknown>;
  readonly signal?: AbortSignal;
  /** Evaluations the GPU has finished, as they finish. */
  readonly onEvaluation?: (done: number, total: number) => void;
  readonly onStep?: StepInspector;
  /** When given, the GPU is synced after every U-Net pass and scheduler step to time them apart. */
  readonly profile?: DenoiseProfile;
  /** Evaluations recorded ahead of the GPU (default 2). */
  readonly inFlight?: number;
  /**
   * Host milliseconds spent recording (U-Net passes, guidance, scheduler steps; no GPU waits), added
   * up here: when it approaches the GPU's time per evaluation, the loop is CPU-bound.
   */
  readonly recording?: { ms: number };
}

/** Runs every evaluation of job.scheduler; returns the final latents [n, C, h, w] f32 (caller owns them). */
export async function denoise(job: DenoiseJob): Promise<Tensor> {
  const { rt, unet, scheduler, context, signal, profile } = job;
  const images = job.latents.shape[0]!;
  const rows = context.shape[0]!;
  if (rows !== images && rows !== 2 * images) throw new Error(`denoise: context ${context} for ${images} image(s): expected ${images} or ${2 * images} rows`);
  if (job.latents.dtype !== 'f32') throw new Error(`denoise: latents ${job.latents} must be f32`);
  const guided = rows === 2 * images;
  const total = scheduler.timesteps.length;
  const inFlight = Math.max(1, job.inFlight ?? 2);
  const fences: Promise<void>[] = [];
  let finished = 0;
  const settle = async (keep: number) => {
    while (fences.length > keep) {
      await fences.shift();
      finished++;
      job.onEvaluation?.(finished, total);
    }
  };

  let latents = job.latents;
  const replace = (next: Tensor) => {
    if (latents !== job.latents) latents.dispose();
    latents = next;
  };
  try {
    if (job.onStep) await job.onStep(-1, latents);
    for (let i = 0; i < total; i++) {
      await settle(inFlight - 1);
      throwIfAborted(signal);
      const t0 = performance.now();
      const current = latents;
      // Each evaluation records the same dispatches: iteration() keeps them on the same buffers,
      // so they find their bind groups cached instead of creating hundreds per evaluation.
      const kind = job.hooks?.evaluationKind(i);
      const eps = rt.iteration(kind ? `denoise: U-Net, ${kind}` : 'denoise: U-Net', () => rt.tidy(() => {
        const input = scheduler.scaleModelInput(rt, current, i);
        const batch = guided ? duplicateBatch(rt, input) : input;
        const noise = unet.forward(batch, scheduler.timesteps[i]!, context, { step: i, hooks: job.hooks, guidance: guided ? 'cfg' : 'none' });
        return guided ? guide(rt, noise, job.guidanceScale, current.shape) : noise.dtype === 'f32' ? noise : cast(rt, noise, 'f32');
      }));
      let next: Tensor;
      try {
        const recorded = performance.now() - t0;
        if (profile) {
          await rt.sync();
          profile.unetMs += performance.now() - t0;
        }
        const t1 = performance.now();
        next = rt.iteration('denoise: scheduler step', () => rt.tidy(() => scheduler.step(rt, eps, i, current)));
        if (job.recording) job.recording.ms += recorded + performance.now() - t1;
        if (profile) {
          await rt.sync();
          profile.schedulerMs += performance.now() - t1;
        }
      } finally {
        eps.dispose();
      }
      replace(next);
      rt.flush();
      fences.push(rt.device.queue.onSubmittedWorkDone());
      if (job.onStep) await job.onStep(i, latents);
    }
    await settle(0);
    throwIfAborted(signal);
    const out = latents;
    latents = job.latents; // ownership passes to the caller
    return out;
  } finally {
    if (latents !== job.latents) latents.dispose();
    // Fences of work still queued settle on their own; nothing waits on them after an error.
    for (const f of fences) f.catch(() => undefined);
  }
}

/** [n, …] → [2n, …]: the same latents for the unconditional and the conditional rows. */
function duplicateBatch(rt: Runtime, x: Tensor): Tensor {
  const flat = x.reshape([1, x.size]);
  const both = rt.empty([x.shape[0]! * 2, ...x.shape.slice(1)], x.dtype);
  concatChannels(rt, flat, flat, both.reshape([1, 2 * x.size]));
  return both;
}

/** noise [2n, …] as [uncond…, cond…] → uncond + g·(cond − uncond), f32 [n, …]. */
function guide(rt: Runtime, noise: Tensor, scale: number, shape: readonly number[]): Tensor {
  const half = noise.size / 2;
  const pred = (noise.dtype === 'f32' ? noise : cast(rt, noise, 'f32')).reshape([2, half]);
  const uncond = crop2d(rt, pred, { top: 0, left: 0, height: 1, width: half });
  const cond = crop2d(rt, pred, { top: 1, left: 0, height: 1, width: half });
  const out = rt.empty(shape, 'f32');
  // (1 − g)·uncond + g·cond, the same combination as diffusers' uncond + g·(cond − uncond)
  axpby(rt, 1 - scale, uncond, scale, cond, undefined, undefined, out);
  return out;
}

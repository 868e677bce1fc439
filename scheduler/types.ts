import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';

export type SchedulerKind = 'plms' | 'ddim' | 'euler' | 'dpmpp-2m';

export const SCHEDULER_KINDS: readonly SchedulerKind[] = ['plms', 'ddim', 'euler', 'dpmpp-2m'];

/**
 * One sampling run of a diffusers scheduler. Evaluation i feeds scaleModelInput(sample, i) and
 * timesteps[i] to the U-Net, then step(noise prediction, i, sample) gives the next sample. Steps
 * must be taken in order 0, 1, 2, …; all tensor work is recorded on the GPU (no readback).
 */
export interface Scheduler {
  readonly kind: SchedulerKind;
  /** Inference steps asked for (PLMS evaluates the U-Net steps + 1 times). */
  readonly steps: number;
  /** U-Net timesteps, one per evaluation, in order. */
  readonly timesteps: readonly number[];
  /** Multiply the initial N(0, 1) latents by this (1 except for Euler). */
  readonly initNoiseSigma: number;
  /** The U-Net input for evaluation i; returns `sample` itself when no scaling applies. */
  scaleModelInput(rt: Runtime, sample: Tensor, i: number): Tensor;
  /** The sample after evaluation i; a new tensor (the caller owns it). */
  step(rt: Runtime, modelOutput: Tensor, i: number, sample: Tensor): Tensor;
  /** Frees the history tensors kept between steps. */
  dispose(): void;
}

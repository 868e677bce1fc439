// DDIMScheduler with eta = 0 (deterministic), epsilon prediction, no clipping.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { alphasCumprod } from './betas.js';
import type { SchedulerConfig } from './config.js';
import { combine, StepOrder } from './history.js';
import { f32, sqrtF32 } from './numeric.js';
import { ddimTimesteps } from './timesteps.js';
import type { Scheduler } from './types.js';

export class DdimScheduler implements Scheduler {
  readonly kind = 'ddim' as const;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly stride: number;
  private readonly order: StepOrder;

  constructor(
    config: SchedulerConfig,
    readonly steps: number,
  ) {
    this.timesteps = ddimTimesteps(config, steps);
    this.alphasCumprod = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
    this.stride = Math.floor(config.numTrainTimesteps / steps);
    this.order = new StepOrder('ddim', this.timesteps.length);
  }

  scaleModelInput(_rt: Runtime, sample: Tensor, i: number): Tensor {
    this.order.check(i);
    return sample;
  }

  /**
   * x0 = (x − √(1−ᾱt)·ε)/√ᾱt, prev = √ᾱprev·x0 + √(1−ᾱprev)·ε, folded into one a·x + b·ε from
   * the float32 square roots torch takes.
   */
  step(rt: Runtime, modelOutput: Tensor, i: number, sample: Tensor): Tensor {
    this.order.take(i);
    const t = this.timesteps[i]!;
    const prevT = t - this.stride;
    const at = this.alphasCumprod[t]!;
    const ap = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const rootAt = sqrtF32(at);
    const rootBt = sqrtF32(f32(1 - at));
    const rootAp = sqrtF32(ap);
    const direction = sqrtF32(f32(1 - ap)); // eta = 0: no variance term
    return combine(rt, [
      [rootAp / rootAt, sample],
      [direction - (rootAp * rootBt) / rootAt, modelOutput],
    ]);
  }

  dispose(): void {}
}

// EulerDiscreteScheduler (epsilon prediction, linear sigma interpolation, final sigma 0, no churn).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { axpby } from '../kernels/scale.js';
import { alphasCumprod } from './betas.js';
import type { SchedulerConfig } from './config.js';
import { combine, StepOrder } from './history.js';
import { f32, sqrtF32 } from './numeric.js';
import { inferenceSigmas, trainSigmas } from './sigmas.js';
import { eulerTimesteps } from './timesteps.js';
import type { Scheduler } from './types.js';

export class EulerScheduler implements Scheduler {
  readonly kind = 'euler' as const;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  /** One per evaluation plus the final 0. */
  readonly sigmas: Float32Array;
  private readonly order: StepOrder;

  constructor(
    config: SchedulerConfig,
    readonly steps: number,
  ) {
    this.timesteps = eulerTimesteps(config, steps);
    this.sigmas = inferenceSigmas(trainSigmas(alphasCumprod(config)), this.timesteps, 0);
    const maxSigma = this.sigmas.reduce((m, s) => Math.max(m, s), 0);
    // diffusers: sigma_max for 'linspace'/'trailing', else the std of x at sigma_max, √(σ² + 1)
    this.initNoiseSigma = config.timestepSpacing === 'leading' ? sqrtF32(f32(f32(maxSigma * maxSigma) + 1)) : maxSigma;
    this.order = new StepOrder('euler', this.timesteps.length);
  }

  /** x / √(σ² + 1), the divisor rounded as torch's float32 scalar. */
  scaleModelInput(rt: Runtime, sample: Tensor, i: number): Tensor {
    this.order.check(i);
    const sigma = this.sigmas[i]!;
    return axpby(rt, 1 / sqrtF32(f32(f32(sigma * sigma) + 1)), sample);
  }

  /** x0 = x − σ·ε, d = (x − x0)/σ, prev = x + d·(σnext − σ): prev = x + (σnext − σ)·ε. */
  step(rt: Runtime, modelOutput: Tensor, i: number, sample: Tensor): Tensor {
    this.order.take(i);
    const dt = f32(this.sigmas[i + 1]! - this.sigmas[i]!);
    return combine(rt, [
      [1, sample],
      [dt, modelOutput],
    ]);
  }

  dispose(): void {}
}

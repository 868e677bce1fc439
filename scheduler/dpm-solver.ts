// DPMSolverMultistepScheduler as DPM-Solver++(2M): algorithm dpmsolver++, solver order 2,
// midpoint, lower_order_final, final sigma 0, epsilon prediction.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { alphasCumprod } from './betas.js';
import type { SchedulerConfig } from './config.js';
import { combine, StepOrder } from './history.js';
import { f32, sqrtF32 } from './numeric.js';
import { inferenceSigmas, trainSigmas } from './sigmas.js';
import { dpmSolverTimesteps } from './timesteps.js';
import type { Scheduler } from './types.js';

interface NoiseLevel {
  /** α_t = 1/√(σ² + 1) */
  readonly alpha: number;
  /** σ_t = σ·α_t */
  readonly sigma: number;
  /** λ = log α_t − log σ_t (+∞ at σ = 0) */
  readonly lambda: number;
}

/** diffusers' _sigma_to_alpha_sigma_t and λ, on float32 0-d tensors. */
function noiseLevel(sigma: number): NoiseLevel {
  const alpha = f32(1 / sqrtF32(f32(f32(sigma * sigma) + 1)));
  const sigmaT = f32(sigma * alpha);
  return { alpha, sigma: sigmaT, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT))) };
}

export class DpmSolverScheduler implements Scheduler {
  readonly kind = 'dpmpp-2m' as const;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  /** One per evaluation plus the final 0. */
  readonly sigmas: Float32Array;
  private readonly levels: readonly NoiseLevel[];
  private readonly order: StepOrder;
  /** The previous step's data prediction x0 (diffusers' model_outputs[-2]). */
  private previousX0: Tensor | null = null;

  constructor(
    config: SchedulerConfig,
    readonly steps: number,
  ) {
    this.timesteps = dpmSolverTimesteps(config, steps);
    this.sigmas = inferenceSigmas(trainSigmas(alphasCumprod(config)), this.timesteps, 0);
    this.levels = Array.from(this.sigmas, noiseLevel);
    this.order = new StepOrder('dpmpp-2m', this.timesteps.length);
  }

  scaleModelInput(_rt: Runtime, sample: Tensor, i: number): Tensor {
    this.order.check(i);
    return sample;
  }

  step(rt: Runtime, modelOutput: Tensor, i: number, sample: Tensor): Tensor {
    this.order.take(i);
    const s0 = this.levels[i]!;
    const t = this.levels[i + 1]!;
    // convert_model_output: x0 = (x − σ_s·ε)/α_s, kept for the next step's second-order term
    const x0 = rt.keep(
      combine(rt, [
        [1 / s0.alpha, sample],
        [-s0.sigma / s0.alpha, modelOutput],
      ]),
    );

    const h = f32(t.lambda - s0.lambda);
    const a = f32(t.alpha * f32(f32(Math.exp(-h)) - 1)); // α_t(e^{−h} − 1)
    const sampleCoef = f32(t.sigma / s0.sigma);
    // first order on the first step (no history) and the last (final sigma 0 → lower_order_final)
    const history = this.previousX0;
    let prev: Tensor;
    if (i === 0 || i === this.timesteps.length - 1 || !history) {
      prev = combine(rt, [
        [sampleCoef, sample],
        [-a, x0],
      ]);
    } else {
      // midpoint: x = (σt/σs)·x − A·D0 − ½A·D1, D0 = x0, D1 = (x0 − x0_prev)/r0
      const s1 = this.levels[i - 1]!;
      const r0 = f32(f32(s0.lambda - s1.lambda) / h);
      const halfAOverR0 = f32(0.5 * a) * f32(1 / r0);
      prev = combine(rt, [
        [sampleCoef, sample],
        [-a - halfAOverR0, x0],
        [halfAOverR0, history],
      ]);
    }

    this.previousX0?.dispose();
    this.previousX0 = x0;
    if (i === this.timesteps.length - 1) this.dispose();
    return prev;
  }

  dispose(): void {
    this.previousX0?.dispose();
    this.previousX0 = null;
  }
}

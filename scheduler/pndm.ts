// PNDMScheduler.step_plms with skip_prk_steps (Stable Diffusion's default scheduler).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { alphasCumprod } from './betas.js';
import type { SchedulerConfig } from './config.js';
import { combine, keptCopy, StepOrder } from './history.js';
import { f32, sqrtF32 } from './numeric.js';
import { plmsTimesteps } from './timesteps.js';
import type { Scheduler } from './types.js';

/** Adams–Bashforth weights by history length (newest first). */
const ADAMS_BASHFORTH: Readonly<Record<number, readonly number[]>> = {
  2: [3 / 2, -1 / 2],
  3: [23 / 12, -16 / 12, 5 / 12],
  4: [55 / 24, -59 / 24, 37 / 24, -9 / 24],
};

export class PlmsScheduler implements Scheduler {
  readonly kind = 'plms' as const;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly stride: number;
  private readonly order: StepOrder;
  /** diffusers' ets: kept copies of past noise predictions, oldest first. */
  private ets: Tensor[] = [];
  /** The sample before the first evaluation, reused by the second (the repeated timestep). */
  private firstSample: Tensor | null = null;
  private counter = 0;

  constructor(
    config: SchedulerConfig,
    readonly steps: number,
  ) {
    this.timesteps = plmsTimesteps(config, steps);
    this.alphasCumprod = alphasCumprod(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
    this.stride = Math.floor(config.numTrainTimesteps / steps);
    this.order = new StepOrder('plms', this.timesteps.length);
  }

  scaleModelInput(_rt: Runtime, sample: Tensor, i: number): Tensor {
    this.order.check(i);
    return sample;
  }

  step(rt: Runtime, modelOutput: Tensor, i: number, sample: Tensor): Tensor {
    this.order.take(i);
    let t = this.timesteps[i]!;
    let prevT = t - this.stride;
    if (this.counter !== 1) {
      while (this.ets.length > 3) this.ets.shift()!.dispose();
      this.ets.push(keptCopy(rt, modelOutput));
    } else {
      // the repeated first timestep: step from the first timestep again, from the first sample
      prevT = t;
      t = t + this.stride;
    }

    let base = sample;
    let eps: (readonly [number, Tensor])[];
    const newestFirst = [...this.ets].reverse();
    if (this.ets.length === 1 && this.counter === 0) {
      eps = [[1, modelOutput]];
      this.firstSample = keptCopy(rt, sample);
    } else if (this.ets.length === 1 && this.counter === 1) {
      eps = [
        [0.5, modelOutput],
        [0.5, newestFirst[0]!],
      ];
      base = this.firstSample!;
    } else {
      const weights = ADAMS_BASHFORTH[this.ets.length]!;
      eps = weights.map((w, k) => [w, newestFirst[k]!] as const);
    }

    const { sampleCoef, epsCoef } = this.prevSampleCoefficients(t, prevT);
    let prev: Tensor;
    if (eps.length <= 2) {
      prev = combine(rt, [[sampleCoef, base], ...eps.map(([w, e]) => [epsCoef * w, e] as const)]);
    } else {
      // five or four inputs: fold all but the oldest prediction first
      const [lastWeight, last] = eps[eps.length - 1]!;
      const head = combine(rt, eps.slice(0, -1));
      prev = combine(rt, [
        [sampleCoef, base],
        [epsCoef, head],
        [epsCoef * lastWeight, last],
      ]);
      head.dispose();
    }

    if (this.counter === 1) {
      this.firstSample!.dispose();
      this.firstSample = null;
    }
    this.counter++;
    return prev;
  }

  /**
   * diffusers' _get_prev_sample, prev = sampleCoef·x + epsCoef·ε: its 0-d float32 tensor scalars
   * rounded as torch rounds them, then folded into the two coefficients in float64.
   */
  private prevSampleCoefficients(t: number, prevT: number): { sampleCoef: number; epsCoef: number } {
    const at = this.alphasCumprod[t]!;
    const ap = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const bt = f32(1 - at);
    const bp = f32(1 - ap);
    const sampleCoef = sqrtF32(f32(ap / at));
    const denom = f32(f32(at * sqrtF32(bp)) + sqrtF32(f32(f32(at * bt) * ap)));
    return { sampleCoef, epsCoef: -f32(ap - at) / denom };
  }

  dispose(): void {
    for (const e of this.ets) e.dispose();
    this.ets = [];
    this.firstSample?.dispose();
    this.firstSample = null;
  }
}

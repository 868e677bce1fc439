// The training noise schedule: betas and their cumulative alpha product, bit-exact with diffusers
// on PyTorch's CPU kernels.

import type { SchedulerConfig } from './config.js';
import { f32 } from './numeric.js';

/**
 * torch.linspace(start, end, n, dtype=float32) on the CPU: the float32 step (end − start)/(n − 1),
 * the first half counted up from start and the second half down from end. The kernel's
 * `start + step·i` is compiled to a fused multiply-add; step·i is exact in float64 (a 24-bit
 * mantissa times a small integer) and so is the sum at these magnitudes, so one rounding to
 * float32 reproduces the fma.
 */
export function torchLinspaceF32(start: number, end: number, n: number): Float32Array {
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (n - 1));
  const half = Math.floor(n / 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = i < half ? s + step * i : e - step * (n - i - 1);
  return out;
}

export function betas(config: SchedulerConfig): Float32Array {
  const n = config.numTrainTimesteps;
  if (config.trainedBetas) return Float32Array.from(config.trainedBetas);
  switch (config.betaSchedule) {
    case 'linear':
      return torchLinspaceF32(config.betaStart, config.betaEnd, n);
    case 'scaled_linear': {
      // diffusers: linspace(sqrt(start), sqrt(end)) ** 2, the square taken in float32
      const root = torchLinspaceF32(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), n);
      return root.map((r) => r * r);
    }
    case 'squaredcos_cap_v2': {
      // diffusers' betas_for_alpha_bar: Python floats, then a float32 tensor
      const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      return Float32Array.from({ length: n }, (_, i) => Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
    }
  }
}

/**
 * torch.cumprod(1 − betas) in float32: PyTorch's CPU cumprod keeps its running product in float64
 * (the accumulate type of float) and rounds each output.
 */
export function alphasCumprod(config: SchedulerConfig): Float32Array {
  const b = betas(config);
  const out = new Float32Array(b.length);
  let product = 1;
  for (let i = 0; i < b.length; i++) {
    product *= f32(1 - b[i]!);
    out[i] = product;
  }
  return out;
}

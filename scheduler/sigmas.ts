// Noise levels σ = √((1 − ᾱ)/ᾱ) of the train schedule (x_t = x0 + σ·ε up to scale), as diffusers'
// sigma-based schedulers (Euler, DPM-Solver) derive them.

import { f32, npInterpUnitGrid, sqrtF32 } from './numeric.js';

/** ((1 − ᾱ)/ᾱ) ** 0.5 over a float32 tensor, then handed to numpy as float32. */
export function trainSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => sqrtF32(f32(f32(1 - a) / a)));
}

/**
 * np.interp of the train sigmas at the (possibly fractional) timesteps, then the final sigma
 * appended and the whole cast to float32.
 */
export function inferenceSigmas(train: Float32Array, timesteps: readonly number[], finalSigma: number): Float32Array {
  const out = new Float32Array(timesteps.length + 1);
  timesteps.forEach((t, i) => (out[i] = npInterpUnitGrid(t, train)));
  out[timesteps.length] = finalSigma;
  return out;
}

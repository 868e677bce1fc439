import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape, type DType } from '../runtime/dtype.js';
import { grid1d } from './grid.js';

export interface TimestepEmbeddingOptions {
  dim: number;
  flipSinToCos: boolean;
  downscaleFreqShift: number;
  maxPeriod?: number /* 10000 */;
}

/**
 * The frequencies exp(−ln(maxPeriod)·i/(half − shift)), i < half, rounded step by step as PyTorch's
 * f32 ops round them (−ln(maxPeriod) to f32, product, quotient, exp each rounded to f32).
 */
export function timestepFrequencies(half: number, shift: number, maxPeriod = 10000): Float32Array {
  const f = Math.fround;
  const negLog = f(-Math.log(maxPeriod));
  const denom = f(half - shift);
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = f(Math.exp(f(f(negLog * i) / denom)));
  return out;
}

// Frequency tables live for the runtime's life: a U-Net pass must not upload (which flushes).
const tables = new WeakMap<Runtime, Map<string, Tensor>>();

function frequencyTable(rt: Runtime, half: number, shift: number, maxPeriod: number): Tensor {
  let perRuntime = tables.get(rt);
  if (!perRuntime) tables.set(rt, (perRuntime = new Map()));
  const key = `${half}/${shift}/${maxPeriod}`;
  let t = perRuntime.get(key);
  if (!t || t.isDisposed) {
    const values = half > 0 ? timestepFrequencies(half, shift, maxPeriod) : new Float32Array(1); // no empty bindings
    t = rt.keep(rt.upload(values, [values.length], 'f32'));
    perRuntime.set(key, t);
  }
  return t;
}

/**
 * diffusers get_timestep_embedding: timesteps [B] (f32 tensor) → [B, dim] in `dtype` (default f32).
 * exponent = −ln(maxPeriod)·i/(half − shift); emb = t·exp(exponent); [sin, cos] (or [cos, sin]
 * when flipSinToCos); odd dim zero-padded. The first call per configuration uploads its table.
 */
export function timestepEmbedding(rt: Runtime, timesteps: Tensor, options: TimestepEmbeddingOptions, dtype: DType = 'f32'): Tensor {
  const { dim, flipSinToCos, downscaleFreqShift } = options;
  const maxPeriod = options.maxPeriod ?? 10000;
  if (timesteps.rank !== 1 || timesteps.dtype !== 'f32') {
    throw new Error(`timestepEmbedding: timesteps ${formatShape(timesteps.shape)} ${timesteps.dtype} must be [B] f32`);
  }
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`timestepEmbedding: dim ${dim} must be a positive integer`);
  const half = Math.floor(dim / 2);
  const freqs = frequencyTable(rt, half, downscaleFreqShift, maxPeriod);
  const batch = timesteps.shape[0]!;
  const result = rt.empty([batch, dim], dtype);
  if (result.size === 0) return result;
  const { workgroups, rowWidth } = grid1d(result.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`timestep_embedding_${dtype}`, () => specialize(kernelSource('timestep.wgsl'), { dtype })),
    uniforms: new Uniforms().u32(result.size, dim, half, flipSinToCos ? 1 : 0, rowWidth, 0),
    bindings: [timesteps, freqs, result],
    workgroups,
  });
  return result;
}

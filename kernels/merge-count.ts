import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';

/**
 * keys [B, n] f32 → u32 [B + 1]: per row the number of keys ≥ threshold (compared in f32, as torch
 * compares an f32 tensor with a Python float), then their maximum over the rows. With `tokens`
 * (≥ n) → u32 [B + 2], ending with tokens − maximum: the rows a sequence of that many tokens keeps
 * after merging the maximum away.
 */
export function countAtLeast(rt: Runtime, keys: Tensor, threshold: number, tokens?: number): Tensor {
  if (keys.rank !== 2 || keys.dtype !== 'f32') throw new Error(`countAtLeast: keys ${formatShape(keys.shape)} ${keys.dtype} must be [B, n] f32`);
  if (!Number.isFinite(threshold)) throw new Error(`countAtLeast: threshold ${threshold} is not finite`);
  const [batch, n] = keys.shape as [number, number];
  if (tokens !== undefined && (!Number.isInteger(tokens) || tokens < Math.max(n, 1))) {
    throw new Error(`countAtLeast: ${tokens} tokens for ${n} keys a row`);
  }
  const counts = rt.empty([batch + (tokens === undefined ? 1 : 2)], 'u32');
  rt.dispatch({
    pipeline: rt.pipeline('merge_count', kernelSource('merge-count.wgsl')),
    uniforms: new Uniforms().u32(n, batch).f32(threshold).u32(tokens ?? 0),
    bindings: [keys, counts],
    workgroups: [1],
  });
  return counts;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';

/**
 * importanceRank [images, N] u32 (descending importance, a permutation per row) → keys
 * [images, N] f32: a hash of (seed, image, token) in [0, 1) for the `pool` most important tokens,
 * −1 for the others. rankDescending(keys) then lists the pool in a seeded random order first.
 */
export function poolDrawKeys(rt: Runtime, importanceRank: Tensor, pool: number, seed: number): Tensor {
  if (importanceRank.rank !== 2 || importanceRank.dtype !== 'u32') {
    throw new Error(`poolDrawKeys: importanceRank ${formatShape(importanceRank.shape)} ${importanceRank.dtype} must be [images, N] u32`);
  }
  const [images, tokens] = importanceRank.shape as [number, number];
  if (!Number.isInteger(pool) || pool < 0 || pool > tokens) throw new Error(`poolDrawKeys: pool ${pool} outside 0..${tokens}`);
  if (!Number.isInteger(seed)) throw new Error(`poolDrawKeys: seed ${seed} must be an integer`);
  const keys = rt.empty([images, tokens], 'f32');
  if (keys.size === 0) return keys;
  const { workgroups, rowWidth } = grid1d(keys.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline('importance_draw', kernelSource('importance-draw.wgsl')),
    uniforms: new Uniforms().u32(tokens, keys.size, pool, seed >>> 0, rowWidth),
    bindings: [importanceRank, keys],
    workgroups,
  });
  return keys;
}

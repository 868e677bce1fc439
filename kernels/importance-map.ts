import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';

/**
 * The classifier-free-guidance magnitude ‖ε_cond − ε_uncond‖ over the channels at every position:
 * noisePred [2·images, C, H, W] (rows [uncond…, cond…], f32 or f16) → [images, H, W] f32.
 */
export function guidanceMagnitude(rt: Runtime, noisePred: Tensor): Tensor {
  if (noisePred.rank !== 4 || noisePred.dtype === 'u32' || noisePred.shape[0]! % 2 !== 0) {
    throw new Error(`guidanceMagnitude: noisePred ${formatShape(noisePred.shape)} ${noisePred.dtype} must be [2·images, C, H, W] f32 or f16`);
  }
  const [batch, channels, height, width] = noisePred.shape as [number, number, number, number];
  const images = batch / 2;
  const out = rt.empty([images, height, width], 'f32');
  if (out.size === 0) return out;
  const { workgroups, rowWidth } = grid1d(out.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`importance_map_${noisePred.dtype}`, () => specialize(kernelSource('importance-map.wgsl'), { dtype: noisePred.dtype })),
    uniforms: new Uniforms().u32(out.size, channels, height * width, images, rowWidth),
    bindings: [noisePred, out],
    workgroups,
  });
  return out;
}

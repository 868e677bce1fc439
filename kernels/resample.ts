import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { resultTensor } from './result.js';

/** nearest-neighbour 2× upsample: [B, C, H, W] → [B, C, 2H, 2W] */
export function upsampleNearest2x(rt: Runtime, x: Tensor, out?: Tensor): Tensor {
  if (x.rank !== 4) throw new Error(`upsampleNearest2x: x ${formatShape(x.shape)} must be [B, C, H, W]`);
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const result = resultTensor(rt, 'upsampleNearest2x', [b, c, 2 * h, 2 * w], x.dtype, out, [x]);
  if (x.size === 0) return result;
  const { workgroups, rowWidth } = grid1d(x.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`upsample_nearest2x_${x.dtype}`, () => specialize(kernelSource('resample.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(x.size, w, rowWidth),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

/**
 * Nearest-neighbour resize to an explicit size, as torch's F.interpolate(size=…, mode='nearest'):
 * the U-Net's upsamplers use it when the latent sides are not multiples of 8, so the upsampled
 * hidden states meet the skip connection's size. Exact 2× requests take the faster 2× kernel.
 */
export function upsampleNearest(rt: Runtime, x: Tensor, height: number, width: number, out?: Tensor): Tensor {
  if (x.rank !== 4) throw new Error(`upsampleNearest: x ${formatShape(x.shape)} must be [B, C, H, W]`);
  const [b, c, h, w] = x.shape as [number, number, number, number];
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new Error(`upsampleNearest: bad output size ${height}×${width}`);
  }
  if (height === 2 * h && width === 2 * w) return upsampleNearest2x(rt, x, out);
  const result = resultTensor(rt, 'upsampleNearest', [b, c, height, width], x.dtype, out, [x]);
  if (result.size === 0 || x.size === 0) return result;
  const { workgroups, rowWidth } = grid1d(result.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`upsample_nearest_${x.dtype}`, () => specialize(kernelSource('resample_nearest.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(result.size, h, w, height, width).f32(Math.fround(h / height), Math.fround(w / width)).u32(rowWidth),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

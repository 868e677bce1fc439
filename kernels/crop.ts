import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { resultTensor } from './result.js';

export interface CropWindow {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/**
 * x[..., top : top + height, left : left + width] as a new contiguous tensor: [..., H, W] →
 * [..., height, width] (latent tiles; row slices of weights). The window must lie inside x.
 */
export function crop2d(rt: Runtime, x: Tensor, window: CropWindow, out?: Tensor): Tensor {
  const { top, left, height, width } = window;
  if (x.rank < 2 || x.dtype === 'u32') throw new Error(`crop2d: x ${formatShape(x.shape)} ${x.dtype} must be [..., H, W] f32/f16`);
  const h = x.shape[x.rank - 2]!;
  const w = x.shape[x.rank - 1]!;
  const whole = [top, left, height, width].every((v) => Number.isInteger(v) && v >= 0);
  if (!whole || top + height > h || left + width > w) {
    throw new Error(`crop2d: window ${height}x${width} at (${top}, ${left}) is not inside x ${formatShape(x.shape)}`);
  }
  const outShape = [...x.shape.slice(0, -2), height, width];
  const result = resultTensor(rt, 'crop2d', outShape, x.dtype, out, [x]);
  if (result.size === 0) return result;
  const { workgroups, rowWidth } = grid1d(result.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`crop2d_${x.dtype}`, () => specialize(kernelSource('crop.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(result.size, width, height, w, h, top, left, rowWidth),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

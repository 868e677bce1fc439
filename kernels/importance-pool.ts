import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';

/**
 * factor × factor average pooling of map [images, H, W] f32 onto the ⌈H/factor⌉ × ⌈W/factor⌉ grid
 * (edge cells clipped and averaged over what they cover) → [images, h · w] f32.
 */
export function averagePoolImportance(rt: Runtime, map: Tensor, factor: number): Tensor {
  if (map.rank !== 3 || map.dtype !== 'f32') throw new Error(`averagePoolImportance: map ${formatShape(map.shape)} ${map.dtype} must be [images, H, W] f32`);
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`averagePoolImportance: factor ${factor} must be a positive integer`);
  const [images, inH, inW] = map.shape as [number, number, number];
  const outH = Math.ceil(inH / factor);
  const outW = Math.ceil(inW / factor);
  const out = rt.empty([images, outH * outW], 'f32');
  if (out.size === 0) return out;
  const { workgroups, rowWidth } = grid1d(out.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline('importance_pool', kernelSource('importance-pool.wgsl')),
    uniforms: new Uniforms().u32(out.size, inW, inH, outW, outH, factor, rowWidth),
    bindings: [map, out],
    workgroups,
  });
  return out;
}

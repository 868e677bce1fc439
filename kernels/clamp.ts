import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';
import { laneAliases, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';

/** out = min(max(x, lo), hi) elementwise in f32 math (the VAE's log-variance clamp to [-30, 20]). */
export function clamp(rt: Runtime, x: Tensor, lo: number, hi: number, out?: Tensor): Tensor {
  if (x.dtype === 'u32') throw new Error(`clamp: x ${x} must be f32 or f16`);
  if (!(lo <= hi)) throw new Error(`clamp: lower bound ${lo} is above the upper bound ${hi}`);
  const result = resultTensor(rt, 'clamp', x.shape, x.dtype, out, [x]);
  if (x.size === 0) return result;
  const width = laneWidth(x.size);
  const code = () => specialize(kernelSource('clamp.wgsl'), { dtype: x.dtype, aliases: laneAliases(x.dtype, width) });
  const n = x.size / width;
  const { workgroups, rowWidth } = grid1d(n, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`clamp_${x.dtype}_w${width}`, code),
    uniforms: new Uniforms().u32(n, rowWidth).f32(lo, hi),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

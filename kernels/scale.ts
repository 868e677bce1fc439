import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { laneAliases, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';

/**
 * out = a·x + b·y (+ c·z) elementwise with scalar coefficients (schedulers, CFG, latent scaling),
 * f32 math. y/z optional (b and c default to 1 when their tensor is given). out must be a separate
 * tensor: WebGPU forbids a writable binding that aliases an input.
 */
export function axpby(rt: Runtime, a: number, x: Tensor, b?: number, y?: Tensor, c?: number, z?: Tensor, out?: Tensor): Tensor {
  if (z && !y) throw new Error('axpby: z given without y');
  const inputs = [x, ...(y ? [y] : []), ...(z ? [z] : [])];
  for (const t of inputs) {
    if (t.size !== x.size || t.dtype !== x.dtype) {
      throw new Error(`axpby: inputs differ: ${inputs.map((u) => `${formatShape(u.shape)} ${u.dtype}`).join(', ')}`);
    }
  }
  const coefficients = [a, b ?? 1, c ?? 1];
  if (coefficients.some((v) => !Number.isFinite(v))) throw new Error(`axpby: coefficients ${coefficients.join(', ')} must be finite`);
  const result = resultTensor(rt, 'axpby', x.shape, x.dtype, out, inputs);
  if (x.size === 0) return result;
  const width = laneWidth(x.size);
  const code = () => specialize(kernelSource('scale.wgsl'), {
    dtype: x.dtype,
    aliases: laneAliases(x.dtype, width),
  });
  const n = x.size / width;
  const { workgroups, rowWidth } = grid1d(n, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`axpby_${x.dtype}_w${width}`, code),
    uniforms: new Uniforms().u32(n, rowWidth, inputs.length).f32(...coefficients),
    bindings: [x, y ?? x, z ?? x, result],
    workgroups,
  });
  return result;
}

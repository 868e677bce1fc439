import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { laneAliases, laneHelpers, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';
import { activationSource } from './unary.js';

/**
 * diffusers GEGLU after its projection: x: [..., 2F] → hidden = x[..., :F], gate = x[..., F:],
 * out = hidden · gelu(gate) (erf form): [..., F].
 */
export function geglu(rt: Runtime, x: Tensor, out?: Tensor): Tensor {
  const last = x.shape[x.rank - 1];
  if (last === undefined || last % 2 !== 0) throw new Error(`geglu: last dim of ${formatShape(x.shape)} must be even`);
  const f = last / 2;
  const shape = [...x.shape.slice(0, -1), f];
  const result = resultTensor(rt, 'geglu', shape, x.dtype, out, [x]);
  const width = laneWidth(f);
  const code = () => specialize(laneHelpers(width, ['gelu_f32']) + activationSource() + kernelSource('geglu.wgsl'), {
    dtype: x.dtype,
    aliases: laneAliases(x.dtype, width),
  });
  const n = result.size / width;
  const { workgroups, rowWidth } = grid1d(n, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`geglu_${x.dtype}_w${width}`, code),
    uniforms: new Uniforms().u32(n, f / width, rowWidth),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';
import { laneAliases, laneHelpers, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';

export type UnaryOp = 'silu' | 'gelu' | 'gelu_tanh' | 'quick_gelu';
const OP_CODE: Record<UnaryOp, number> = { silu: 0, gelu: 1, gelu_tanh: 2, quick_gelu: 3 };

/**
 * WGSL of erf_f32, silu_f32, gelu_f32 (erf form), gelu_tanh_f32 and quick_gelu_f32, all f32 → f32
 * with no prelude needs, for kernels that fuse an activation (matmul epilogues).
 */
export function activationSource(): string {
  return `${kernelSource('erf.wgsl')}\n${kernelSource('activations.wgsl')}`;
}

/** out = op(x) elementwise in f32 math; gelu is the exact erf form. Output has x's shape and dtype. */
export function unary(rt: Runtime, op: UnaryOp, x: Tensor, out?: Tensor): Tensor {
  if (!(op in OP_CODE)) throw new Error(`unary: unknown op ${String(op)}`);
  const result = resultTensor(rt, `unary ${op}`, x.shape, x.dtype, out, [x]);
  const width = laneWidth(x.size);
  const code = () => specialize(laneHelpers(width, ['act']) + activationSource() + kernelSource('unary.wgsl'), {
    dtype: x.dtype,
    aliases: laneAliases(x.dtype, width),
    consts: { OP: OP_CODE[op] },
  });
  const n = x.size / width;
  const { workgroups, rowWidth } = grid1d(n, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`unary_${op}_${x.dtype}_w${width}`, code),
    uniforms: new Uniforms().u32(n, rowWidth),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

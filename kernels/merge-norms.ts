import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';
import { tokenTensor } from './merge-split.js';

const WG = 64;

/** x: [B, N, C] → the Euclidean norm of every token, [B, N] f32. */
export function tokenNorms(rt: Runtime, x: Tensor): Tensor {
  const [batch, tokens, channels] = tokenTensor('tokenNorms', 'x', x);
  const out = rt.empty([batch, tokens], 'f32');
  const rows = batch * tokens;
  if (rows === 0) return out;
  const { workgroups, rowWidth } = grid1d(rows, 1);
  rt.dispatch({
    pipeline: rt.pipeline(`merge_norms_${x.dtype}`, () => specialize(kernelSource('merge-norms.wgsl'), { dtype: x.dtype, consts: { WG } })),
    uniforms: new Uniforms().u32(rows, channels, rowWidth),
    bindings: [x, out],
    workgroups,
  });
  return out;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { rowTensor, tokenTensor } from './merge-split.js';

/**
 * tomesd's unmerge as a gather: y [B, M, C] → [B, N, C] with out[b, t] = y[b, positions[b, t]]
 * (positions: mergedPositions' [B, N] u32). With a residual [B, N, C] the add is fused:
 * out = unmerge(y) + residual.
 */
export function unmergeTokens(rt: Runtime, y: Tensor, positions: Tensor, residual?: Tensor): Tensor {
  const [batch, merged, channels] = tokenTensor('unmergeTokens', 'y', y);
  const tokens = rowTensor('unmergeTokens', 'positions', positions, batch, 'u32');
  if (residual && (residual.dtype !== y.dtype || residual.rank !== 3 || residual.shape[0] !== batch || residual.shape[1] !== tokens || residual.shape[2] !== channels)) {
    throw new Error(`unmergeTokens: residual ${formatShape(residual.shape)} ${residual.dtype}, expected [${batch}, ${tokens}, ${channels}] ${y.dtype}`);
  }
  const out = rt.empty([batch, tokens, channels], y.dtype);
  if (out.size === 0) return out;
  const file = residual ? 'merge-unmerge-add.wgsl' : 'merge-unmerge.wgsl';
  const { workgroups, rowWidth } = grid1d(out.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`${file}_${y.dtype}`, () => specialize(kernelSource(file), { dtype: y.dtype })),
    uniforms: new Uniforms().u32(out.size, tokens, channels, merged, rowWidth),
    bindings: residual ? [y, positions, residual, out] : [y, positions, out],
    workgroups,
  });
  return out;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { Uniforms } from '../runtime/uniforms.js';
import { specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';
import { checkGridTokens, pushTileGrid, tomaKernelSource, type TomaGrid } from './toma-layout.js';

/**
 * ToMA merge: x [B, N, C] (grid order) → [B, N − r, C], merged token m = Σ_j merge[b, m, j] ·
 * x[b, token j of m's tile], with dst [B, N − r] u32 and merge [B, N − r, maxTileTokens] from
 * tomaSelect / tomaAssign. f32 accumulation, output in x's dtype.
 */
export function tomaMerge(rt: Runtime, x: Tensor, dst: Tensor, merge: Tensor, grid: TomaGrid): Tensor {
  checkGridTokens('tomaMerge', 'x', x, grid);
  const [batch, , channels] = x.shape as [number, number, number];
  if (dst.dtype !== 'u32' || dst.rank !== 2 || dst.shape[0] !== batch || dst.shape[1] !== grid.destinations) {
    throw new Error(`tomaMerge: dst ${formatShape(dst.shape)} ${dst.dtype} must be [${batch}, ${grid.destinations}] u32`);
  }
  const weightShape = [batch, grid.destinations, grid.maxTileTokens];
  if (merge.dtype !== x.dtype || merge.rank !== 3 || merge.shape.some((d, i) => d !== weightShape[i])) {
    throw new Error(`tomaMerge: weights ${formatShape(merge.shape)} ${merge.dtype} must be ${formatShape(weightShape)} ${x.dtype} for x ${formatShape(x.shape)}`);
  }
  const out = rt.empty([batch, grid.destinations, channels], x.dtype);
  if (out.size === 0) return out;
  const { workgroups, rowWidth } = grid1d(out.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`toma_merge_${x.dtype}`, () => specialize(tomaKernelSource('toma-merge.wgsl'), { dtype: x.dtype })),
    uniforms: pushTileGrid(new Uniforms(), grid).u32(channels, out.size, rowWidth),
    bindings: [x, dst, merge, out],
    workgroups,
  });
  return out;
}

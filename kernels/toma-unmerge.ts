import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { Uniforms } from '../runtime/uniforms.js';
import { specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';
import { checkGridTokens, pushTileGrid, tomaKernelSource, type TomaGrid } from './toma-layout.js';

/**
 * ToMA unmerge: y [B, N − r, C] → [B, N, C] in grid order, token i = Σ_d unmerge[b, i, d] ·
 * y[b, d-th destination of i's tile] (+ residual [B, N, C], the block's skip connection, fused).
 * unmerge: [B, N, maxTileDestinations] from tomaAssign. f32 accumulation, output in y's dtype.
 */
export function tomaUnmerge(rt: Runtime, y: Tensor, unmerge: Tensor, grid: TomaGrid, residual?: Tensor): Tensor {
  if (y.rank !== 3 || y.shape[1] !== grid.destinations) {
    throw new Error(`tomaUnmerge: y ${formatShape(y.shape)} must be [B, ${grid.destinations}, C]`);
  }
  const [batch, , channels] = y.shape as [number, number, number];
  const weightShape = [batch, grid.tokens, grid.maxTileDestinations];
  if (unmerge.dtype !== y.dtype || unmerge.rank !== 3 || unmerge.shape.some((d, i) => d !== weightShape[i])) {
    throw new Error(`tomaUnmerge: weights ${formatShape(unmerge.shape)} ${unmerge.dtype} must be ${formatShape(weightShape)} ${y.dtype} for y ${formatShape(y.shape)}`);
  }
  const outShape = [batch, grid.tokens, channels];
  if (residual) {
    checkGridTokens('tomaUnmerge', 'residual', residual, grid);
    if (residual.dtype !== y.dtype || residual.shape[0] !== batch || residual.shape[2] !== channels) {
      throw new Error(`tomaUnmerge: residual ${formatShape(residual.shape)} ${residual.dtype} must be ${formatShape(outShape)} ${y.dtype}`);
    }
  }
  const out = rt.empty(outShape, y.dtype);
  if (out.size === 0) return out;
  const { workgroups, rowWidth } = grid1d(out.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`toma_unmerge_${y.dtype}`, () => specialize(tomaKernelSource('toma-unmerge.wgsl'), { dtype: y.dtype })),
    uniforms: pushTileGrid(new Uniforms(), grid).u32(channels, out.size, rowWidth, residual ? 1 : 0),
    bindings: [y, unmerge, residual ?? y, out],
    workgroups,
  });
  return out;
}

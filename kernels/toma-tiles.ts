import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';
import { checkGridTokens, pushTileGrid, tomaKernelSource, type TomaGrid } from './toma-layout.js';

const WG = 64;

/**
 * x: [B, N, C] tokens in grid order (f32 or f16) → [B·T, maxTileTokens, C] f32: each tile's tokens
 * L2-normalised, in local order, zero rows past the tile's size. The input of the batched per-tile
 * similarity GEMM (tiles · tilesᵀ).
 */
export function tomaTiles(rt: Runtime, x: Tensor, grid: TomaGrid): Tensor {
  checkGridTokens('tomaTiles', 'x', x, grid);
  if (x.dtype === 'u32') throw new Error('tomaTiles: x must be f32 or f16');
  const [batch, , channels] = x.shape as [number, number, number];
  const out = rt.empty([batch * grid.tiles, grid.maxTileTokens, channels], 'f32');
  const rows = batch * grid.tiles * grid.maxTileTokens;
  if (out.size === 0) return out;
  const { workgroups, rowWidth } = grid1d(rows, 1);
  rt.dispatch({
    pipeline: rt.pipeline(`toma_tiles_${x.dtype}`, () => specialize(tomaKernelSource('toma-tiles.wgsl'), { dtype: x.dtype, consts: { WG } })),
    uniforms: pushTileGrid(new Uniforms(), grid).u32(channels, rows, rowWidth),
    bindings: [x, out],
    workgroups,
  });
  return out;
}

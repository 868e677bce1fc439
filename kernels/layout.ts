import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape, type DType } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { laneAliases, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';

const TILE = 32;

/** [B, C, H, W] → [B, H·W, C] (tokens for the transformer blocks) */
export function nchwToTokens(rt: Runtime, x: Tensor, out?: Tensor): Tensor {
  if (x.rank !== 4) throw new Error(`nchwToTokens: x ${formatShape(x.shape)} must be [B, C, H, W]`);
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const result = resultTensor(rt, 'nchwToTokens', [b, h * w, c], x.dtype, out, [x]);
  transpose(rt, x, b, c, h * w, result);
  return result;
}

/** [B, H·W, C] → [B, C, H, W] */
export function tokensToNchw(rt: Runtime, x: Tensor, height: number, width: number, out?: Tensor): Tensor {
  if (x.rank !== 3 || x.shape[1] !== height * width) {
    throw new Error(`tokensToNchw: x ${formatShape(x.shape)} must be [B, ${height}·${width}, C]`);
  }
  const [b, s, c] = x.shape as [number, number, number];
  const result = resultTensor(rt, 'tokensToNchw', [b, c, height, width], x.dtype, out, [x]);
  transpose(rt, x, b, s, c, result);
  return result;
}

/** out[b, j, i] = x[b, i, j] for x: [batch, rows, cols]. */
function transpose(rt: Runtime, x: Tensor, batch: number, rows: number, cols: number, out: Tensor): void {
  if (x.size === 0) return;
  const tilesCols = Math.ceil(cols / TILE);
  const tiles = Math.ceil(rows / TILE) * tilesCols;
  const { workgroups } = grid1d(tiles, 1);
  const [gx, gy = 1] = workgroups;
  if (batch > 65535) throw new Error(`transpose: batch ${batch} over the dispatch limit`);
  rt.dispatch({
    pipeline: rt.pipeline(`layout_transpose_${x.dtype}`, () => specialize(kernelSource('layout_transpose.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(rows, cols, tilesCols, tiles, gx),
    bindings: [x, out],
    workgroups: [gx, gy, batch],
  });
}

/** dtype conversion f32 ↔ f16 (same shape); a tensor already in `dtype` is copied. */
export function cast(rt: Runtime, x: Tensor, dtype: DType): Tensor {
  const result = rt.empty(x.shape, dtype);
  if (x.size === 0) return result;
  if (x.dtype === dtype) {
    rt.copy(x, result);
    return result;
  }
  if (!rt.features.f16) throw new Error(`cast ${x.dtype} → ${dtype}: this device has no shader-f16`);
  const width = laneWidth(x.size);
  const code = () => specialize(kernelSource('layout_cast.wgsl'), {
    enables: ['f16'],
    aliases: { ...laneAliases(x.dtype, width, 'VI'), ...laneAliases(dtype, width, 'VO') },
  });
  const n = x.size / width;
  const { workgroups, rowWidth } = grid1d(n, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`cast_${x.dtype}_${dtype}_w${width}`, code),
    uniforms: new Uniforms().u32(n, rowWidth),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

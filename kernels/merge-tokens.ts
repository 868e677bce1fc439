import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { rowTensor, splitIndices, tokenTensor } from './merge-split.js';
import { checkDeviceCount, countFunction, type DeviceCount } from './device-count.js';

export interface MergeIndices {
  /** Token indices of the split: [n] or [B, n] u32. */
  readonly src: Tensor;
  readonly dst: Tensor;
  /** [B, n_src] u32: sources by descending similarity (rankDescending's order). */
  readonly order: Tensor;
  /** groupByDestination's result for the same r. */
  readonly grouped: Tensor;
  readonly segmentEnd: Tensor;
  /** Sources merged per row: a host number, or a count on the GPU (≤ n_src). */
  readonly r: number | DeviceCount;
}

/**
 * tomesd's merge (mode "mean"): x [B, N, C] → [B, n_src − r + n_dst, C] = [unmerged sources in
 * similarity order, destinations averaged with their merged sources]. With r on the GPU the shape
 * cannot depend on it: the result keeps the capacity [B, N, C], its first N − r rows the merged
 * sequence and the rest zeros (finite, so row-wise layers after it stay finite there).
 */
export function mergeTokens(rt: Runtime, x: Tensor, m: MergeIndices): Tensor {
  const [batch, tokens, channels] = tokenTensor('mergeTokens', 'x', x);
  const s = splitIndices('mergeTokens', 'src', m.src, batch);
  const d = splitIndices('mergeTokens', 'dst', m.dst, batch);
  if (s.count + d.count !== tokens) throw new Error(`mergeTokens: split of ${s.count} + ${d.count} tokens for x ${formatShape(x.shape)}`);
  if (rowTensor('mergeTokens', 'order', m.order, batch, 'u32') !== s.count) throw new Error(`mergeTokens: order ${formatShape(m.order.shape)} for ${s.count} sources`);
  const r = typeof m.r === 'number' ? m.r : null;
  if (r === null) checkDeviceCount('mergeTokens', 'r', m.r as DeviceCount);
  else if (!Number.isInteger(r) || r < 0 || r > s.count) throw new Error(`mergeTokens: r = ${r} outside 0..${s.count}`);
  const groupStride = rowTensor('mergeTokens', 'grouped', m.grouped, batch, 'u32');
  if (groupStride !== Math.max(r ?? s.count, 1)) throw new Error(`mergeTokens: grouped ${formatShape(m.grouped.shape)} for r = ${r ?? 'on the GPU'}`);
  if (rowTensor('mergeTokens', 'segmentEnd', m.segmentEnd, batch, 'u32') !== d.count) throw new Error(`mergeTokens: segmentEnd ${formatShape(m.segmentEnd.shape)} for ${d.count} destinations`);
  const rows = r === null ? tokens : s.count - r + d.count;
  const out = rt.empty([batch, rows, channels], x.dtype);
  if (out.size === 0) return out;
  const { workgroups, rowWidth } = grid1d(out.size, 256);
  const count = r === null ? (m.r as DeviceCount) : undefined;
  const code = specialize(kernelSource('merge-tokens.wgsl') + countFunction('merge_r', 8, count, 'p.r'), { dtype: x.dtype });
  rt.dispatch({
    pipeline: rt.pipeline(`merge_tokens_${x.dtype}${count ? ' counted' : ''}`, code),
    uniforms: new Uniforms().u32(out.size, tokens, channels, s.count, d.count, r ?? 0, s.stride, d.stride, groupStride, rowWidth, rows),
    bindings: count ? [x, m.src, m.dst, m.order, m.grouped, m.segmentEnd, out, count.tensor] : [x, m.src, m.dst, m.order, m.grouped, m.segmentEnd, out],
    workgroups,
  });
  return out;
}

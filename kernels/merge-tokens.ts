import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { rowTensor, splitIndices, tokenTensor } from './merge-split.js';

export interface MergeIndices {
  /** Token indices of the split: [n] or [B, n] u32. */
  readonly src: Tensor;
  readonly dst: Tensor;
  /** [B, n_src] u32: sources by descending similarity (rankDescending's order). */
  readonly order: Tensor;
  /** groupByDestination's result for the same r. */
  readonly grouped: Tensor;
  readonly segmentEnd: Tensor;
  /** Sources merged per row. */
  readonly r: number;
}

/**
 * tomesd's merge (mode "mean"): x [B, N, C] → [B, n_src − r + n_dst, C] = [unmerged sources in
 * similarity order, destinations averaged with their merged sources].
 */
export function mergeTokens(rt: Runtime, x: Tensor, m: MergeIndices): Tensor {
  const [batch, tokens, channels] = tokenTensor('mergeTokens', 'x', x);
  const s = splitIndices('mergeTokens', 'src', m.src, batch);
  const d = splitIndices('mergeTokens', 'dst', m.dst, batch);
  if (s.count + d.count !== tokens) throw new Error(`mergeTokens: split of ${s.count} + ${d.count} tokens for x ${formatShape(x.shape)}`);
  if (rowTensor('mergeTokens', 'order', m.order, batch, 'u32') !== s.count) throw new Error(`mergeTokens: order ${formatShape(m.order.shape)} for ${s.count} sources`);
  if (!Number.isInteger(m.r) || m.r < 0 || m.r > s.count) throw new Error(`mergeTokens: r = ${m.r} outside 0..${s.count}`);
  const groupStride = rowTensor('mergeTokens', 'grouped', m.grouped, batch, 'u32');
  if (groupStride !== Math.max(m.r, 1)) throw new Error(`mergeTokens: grouped ${formatShape(m.grouped.shape)} for r = ${m.r}`);
  if (rowTensor('mergeTokens', 'segmentEnd', m.segmentEnd, batch, 'u32') !== d.count) throw new Error(`mergeTokens: segmentEnd ${formatShape(m.segmentEnd.shape)} for ${d.count} destinations`);
  const merged = s.count - m.r + d.count;
  const out = rt.empty([batch, merged, channels], x.dtype);
  if (out.size === 0) return out;
  const { workgroups, rowWidth } = grid1d(out.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`merge_tokens_${x.dtype}`, specialize(kernelSource('merge-tokens.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(out.size, tokens, channels, s.count, d.count, m.r, s.stride, d.stride, groupStride, rowWidth),
    bindings: [x, m.src, m.dst, m.order, m.grouped, m.segmentEnd, out],
    workgroups,
  });
  return out;
}

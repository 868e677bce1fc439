import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { rowTensor, splitIndices } from './merge-split.js';
import { checkDeviceCount, countFunction, type DeviceCount } from './device-count.js';

/**
 * [B, N] u32: for every token, its row in the merged sequence [n_src − r unmerged sources in rank
 * order, n_dst destinations] — what unmergeTokens gathers from. rank/destination: [B, n_src] u32;
 * src/dst: the split's token indices ([n] or [B, n]), together a permutation of 0..N. r is a host
 * number or a count on the GPU (≤ n_src); either way every position is below N − r.
 */
export function mergedPositions(rt: Runtime, rank: Tensor, destination: Tensor, src: Tensor, dst: Tensor, r: number | DeviceCount): Tensor {
  const batch = rank.shape[0] ?? 0;
  const nSrc = rowTensor('mergedPositions', 'rank', rank, batch, 'u32');
  if (rowTensor('mergedPositions', 'destination', destination, batch, 'u32') !== nSrc) {
    throw new Error(`mergedPositions: destination ${formatShape(destination.shape)} does not match rank ${formatShape(rank.shape)}`);
  }
  const s = splitIndices('mergedPositions', 'src', src, batch);
  const d = splitIndices('mergedPositions', 'dst', dst, batch);
  if (s.count !== nSrc) throw new Error(`mergedPositions: ${s.count} source indices for ${nSrc} ranked sources`);
  const onDevice = typeof r !== 'number';
  if (onDevice) checkDeviceCount('mergedPositions', 'r', r);
  else if (!Number.isInteger(r) || r < 0 || r > nSrc) throw new Error(`mergedPositions: r = ${r} outside 0..${nSrc}`);
  const tokens = nSrc + d.count;
  const pos = rt.empty([batch, tokens], 'u32');
  if (batch === 0 || tokens === 0) return pos;
  const code = kernelSource('merge-token-map.wgsl') + countFunction('merge_r', 6, onDevice ? r : undefined, 'p.r');
  rt.dispatch({
    pipeline: rt.pipeline(`merge_token_map${onDevice ? ' counted' : ''}`, code),
    uniforms: new Uniforms().u32(tokens, nSrc, d.count, onDevice ? 0 : r, s.stride, d.stride),
    bindings: onDevice ? [rank, destination, src, dst, pos, r.tensor] : [rank, destination, src, dst, pos],
    workgroups: [Math.ceil(tokens / 256), batch],
  });
  return pos;
}

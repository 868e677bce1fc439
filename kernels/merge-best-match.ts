import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { rowTensor, splitIndices, tokenTensor } from './merge-split.js';

const TILE = 64;

export interface BestMatch {
  /** [B, n_src] f32: each source's highest cosine similarity to a destination. */
  readonly similarity: Tensor;
  /** [B, n_src] u32: the destination (index into dst) reaching it, the first on ties. */
  readonly destination: Tensor;
}

/**
 * For each source token its most similar destination by cosine similarity (tomesd's
 * `scores.max(dim=-1)` without storing the scores). x: [B, N, C]; norms: tokenNorms(x) [B, N];
 * src/dst: u32 token indices, [n] shared by every row or [B, n].
 */
export function bestMatch(rt: Runtime, x: Tensor, norms: Tensor, src: Tensor, dst: Tensor): BestMatch {
  const [batch, tokens, channels] = tokenTensor('bestMatch', 'x', x);
  if (rowTensor('bestMatch', 'norms', norms, batch, 'f32') !== tokens) {
    throw new Error(`bestMatch: norms ${formatShape(norms.shape)} do not match x ${formatShape(x.shape)}`);
  }
  const s = splitIndices('bestMatch', 'src', src, batch);
  const d = splitIndices('bestMatch', 'dst', dst, batch);
  if (d.count === 0 && s.count > 0) throw new Error('bestMatch: no destinations to match the sources to');
  const similarity = rt.empty([batch, s.count], 'f32');
  const destination = rt.empty([batch, s.count], 'u32');
  if (batch === 0 || s.count === 0) return { similarity, destination };
  rt.dispatch({
    pipeline: rt.pipeline(`merge_best_match_${x.dtype}`, specialize(kernelSource('merge-best-match.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(tokens, channels, s.count, d.count, s.stride, d.stride),
    bindings: [x, norms, src, dst, similarity, destination],
    workgroups: [Math.ceil(s.count / TILE), batch],
  });
  return { similarity, destination };
}

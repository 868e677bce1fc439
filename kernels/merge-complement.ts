import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';

/**
 * The tokens of 0..N missing from dst, in increasing order: dst [n_dst] or [rows, n_dst] u32 of
 * distinct indices → [N − n_dst] or [rows, N − n_dst] u32. One workgroup per row.
 */
export function complementTokens(rt: Runtime, dst: Tensor, tokens: number): Tensor {
  if (dst.dtype !== 'u32' || (dst.rank !== 1 && dst.rank !== 2)) throw new Error(`complementTokens: dst ${formatShape(dst.shape)} ${dst.dtype} must be [n] or [rows, n] u32`);
  const rows = dst.rank === 2 ? dst.shape[0]! : 1;
  const nDst = dst.shape[dst.rank - 1]!;
  if (!Number.isInteger(tokens) || nDst > tokens) throw new Error(`complementTokens: ${nDst} destinations among ${tokens} tokens`);
  const shape = dst.rank === 2 ? [rows, tokens - nDst] : [tokens - nDst];
  const src = rt.empty(shape, 'u32');
  if (rows === 0 || tokens === nDst) return src;
  const flags = rt.empty([rows, tokens], 'u32');
  rt.dispatch({
    pipeline: rt.pipeline('merge_complement', kernelSource('merge-complement.wgsl')),
    uniforms: new Uniforms().u32(tokens, nDst),
    // an empty dst still needs a non-empty binding (every tensor buffer holds at least 4 bytes)
    bindings: [nDst === 0 ? { buffer: dst.buffer, offset: 0, size: 4 } : dst, flags, src],
    workgroups: [rows],
  });
  flags.dispose();
  return src;
}

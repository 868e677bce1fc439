import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';

/**
 * Looks up token embeddings and adds position embeddings (CLIP's text embeddings).
 * ids: [B, S] u32, table: [vocab, C], positions: [maxPositions ≥ S, C] → [B, S, C] in the table's dtype.
 * Out-of-range ids are clamped to the last row rather than read out of bounds.
 */
export function tokenEmbedding(rt: Runtime, ids: Tensor, table: Tensor, positions: Tensor): Tensor {
  if (ids.dtype !== 'u32' || ids.rank !== 2) throw new Error(`tokenEmbedding: ids must be [B, S] u32, got ${ids}`);
  if (table.rank !== 2 || positions.rank !== 2 || positions.shape[1] !== table.shape[1] || table.dtype !== positions.dtype) {
    throw new Error(`tokenEmbedding: table ${formatShape(table.shape)} and positions ${formatShape(positions.shape)} do not fit`);
  }
  const [batch, seq] = ids.shape as [number, number];
  const [vocab, channels] = table.shape as [number, number];
  if (seq > positions.shape[0]!) throw new Error(`tokenEmbedding: ${seq} tokens but only ${positions.shape[0]} positions`);
  const out = rt.empty([batch, seq, channels], table.dtype);
  rt.dispatch({
    pipeline: rt.pipeline(`embedding_${table.dtype}`, () => specialize(kernelSource('embedding.wgsl'), { dtype: table.dtype })),
    uniforms: new Uniforms().u32(batch * seq, channels, seq, vocab),
    bindings: [table, positions, ids, out],
    workgroups: [Math.ceil(channels / 64), batch * seq],
  });
  return out;
}

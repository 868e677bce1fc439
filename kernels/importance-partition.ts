import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';

export interface PoolSplit {
  /** [batch, nDst] u32: destinations, drawn from the pool. */
  readonly dst: Tensor;
  /** [batch, N − nDst] u32: the N − pool tokens outside the pool (token order), then the pool's other tokens. */
  readonly src: Tensor;
}

/**
 * The destination/source split of every batch row from each image's draw rank [images, N] u32
 * (rankDescending of poolDrawKeys). Row b uses image b mod images (CFG halves share a split).
 */
export function poolSplit(rt: Runtime, drawRank: Tensor, batch: number, pool: number, nDst: number): PoolSplit {
  if (drawRank.rank !== 2 || drawRank.dtype !== 'u32') throw new Error(`poolSplit: drawRank ${formatShape(drawRank.shape)} ${drawRank.dtype} must be [images, N] u32`);
  const [images, tokens] = drawRank.shape as [number, number];
  if (!Number.isInteger(batch) || batch < 1 || batch % images !== 0) throw new Error(`poolSplit: batch ${batch} is not a multiple of ${images} images`);
  if (!Number.isInteger(pool) || pool > tokens || !Number.isInteger(nDst) || nDst < 1 || nDst > pool) {
    throw new Error(`poolSplit: need 1 ≤ nDst (${nDst}) ≤ pool (${pool}) ≤ N (${tokens})`);
  }
  const dst = rt.empty([batch, nDst], 'u32');
  const src = rt.empty([batch, tokens - nDst], 'u32');
  rt.dispatch({
    pipeline: rt.pipeline('importance_partition', kernelSource('importance-partition.wgsl')),
    uniforms: new Uniforms().u32(tokens, images, pool, nDst),
    // an empty src (every token a destination) still needs a non-empty binding
    bindings: [drawRank, dst, tokens === nDst ? { buffer: src.buffer, offset: 0, size: 4 } : src],
    workgroups: [Math.ceil(tokens / 256), batch],
  });
  return { dst, src };
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { rowTensor, splitIndices, tokenTensor, type SplitIndices } from './merge-split.js';
import { matrixFragment } from './gemm.js';
import { matmul } from './matmul.js';
import { grid1d } from './grid.js';

const TILE = 64;
/** Bytes of similarity scores one block of sources may hold (the GEMM path stores them). */
const SCORE_BLOCK_BYTES = 256 * 2 ** 20;

export interface BestMatch {
  /** [B, n_src] f32: each source's highest cosine similarity to a destination. */
  readonly similarity: Tensor;
  /** [B, n_src] u32: the destination (index into dst) reaching it, the first on ties. */
  readonly destination: Tensor;
}

/**
 * 'fused': one kernel, f32 arithmetic, scores never stored (exact against the f32 goldens);
 * 'gemm': unit vectors gathered in the model dtype, scores by the GEMM engine (tensor cores for
 * f16, like tomesd's fp16 `a @ b.T`), then a row argmax, in blocks of sources.
 */
export type BestMatchPath = 'fused' | 'gemm';

export interface BestMatchOptions {
  /** Default: bestMatchPath(). */
  readonly path?: BestMatchPath;
  /** 'gemm': bytes of scores per block of sources (default 256 MiB: one block up to 1024²; tests make it small). */
  readonly scoreBlockBytes?: number;
}

/** The GEMM path where it runs on tensor cores, the fused kernel otherwise. */
export function bestMatchPath(rt: Runtime, x: Tensor): BestMatchPath {
  return matrixFragment(rt, x.dtype) ? 'gemm' : 'fused';
}

/**
 * For each source token its most similar destination by cosine similarity (tomesd's
 * `scores.max(dim=-1)`). x: [B, N, C]; norms: tokenNorms(x) [B, N]; src/dst: u32 token indices,
 * [n] shared by every row or [B, n].
 */
export function bestMatch(rt: Runtime, x: Tensor, norms: Tensor, src: Tensor, dst: Tensor, options: BestMatchOptions = {}): BestMatch {
  const path = options.path ?? bestMatchPath(rt, x);
  const [batch, tokens] = tokenTensor('bestMatch', 'x', x);
  if (rowTensor('bestMatch', 'norms', norms, batch, 'f32') !== tokens) {
    throw new Error(`bestMatch: norms ${formatShape(norms.shape)} do not match x ${formatShape(x.shape)}`);
  }
  const s = splitIndices('bestMatch', 'src', src, batch);
  const d = splitIndices('bestMatch', 'dst', dst, batch);
  if (d.count === 0 && s.count > 0) throw new Error('bestMatch: no destinations to match the sources to');
  const out = { similarity: rt.empty([batch, s.count], 'f32'), destination: rt.empty([batch, s.count], 'u32') };
  if (batch === 0 || s.count === 0) return out;
  if (path === 'fused') fusedBestMatch(rt, x, norms, src, dst, s, d, out);
  else gemmBestMatch(rt, x, norms, src, dst, s, d, out, options.scoreBlockBytes ?? SCORE_BLOCK_BYTES);
  return out;
}

function fusedBestMatch(rt: Runtime, x: Tensor, norms: Tensor, src: Tensor, dst: Tensor, s: SplitIndices, d: SplitIndices, out: BestMatch): void {
  const [batch, tokens, channels] = x.shape as [number, number, number];
  rt.dispatch({
    pipeline: rt.pipeline(`merge_best_match_${x.dtype}`, () => specialize(kernelSource('merge-best-match.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(tokens, channels, s.count, d.count, s.stride, d.stride),
    bindings: [x, norms, src, dst, out.similarity, out.destination],
    workgroups: [Math.ceil(s.count / TILE), batch],
  });
}

function gemmBestMatch(rt: Runtime, x: Tensor, norms: Tensor, src: Tensor, dst: Tensor, s: SplitIndices, d: SplitIndices, out: BestMatch, blockBytes: number): void {
  const batch = x.shape[0]!;
  const scoreBytes = batch * d.count * (x.dtype === 'f32' ? 4 : 2);
  const limit = Math.min(blockBytes, rt.gpu.limits.maxStorageBufferBindingSize);
  const block = Math.max(1, Math.min(s.count, Math.floor(limit / scoreBytes)));
  rt.tidy(() => {
    const destinations = gatherUnit(rt, x, norms, dst, d, 0, d.count);
    for (let first = 0; first < s.count; first += block) {
      rt.tidy(() => {
        const count = Math.min(block, s.count - first);
        const sources = gatherUnit(rt, x, norms, src, s, first, count);
        const scores = matmul(rt, sources, destinations, { transposeB: true, label: 'merge_similarity' });
        rowArgmax(rt, scores, out, first, s.count);
      });
    }
  });
}

/** [B, count, C] unit vectors of tokens idx[first …]. */
function gatherUnit(rt: Runtime, x: Tensor, norms: Tensor, idx: Tensor, split: SplitIndices, first: number, count: number): Tensor {
  const [batch, tokens, channels] = x.shape as [number, number, number];
  const unit = rt.empty([batch, count, channels], x.dtype);
  const { workgroups, rowWidth } = grid1d(unit.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`merge_gather_unit_${x.dtype}`, () => specialize(kernelSource('merge-gather-unit.wgsl'), { dtype: x.dtype })),
    uniforms: new Uniforms().u32(tokens, channels, first, count, split.stride, batch, rowWidth),
    bindings: [x, norms, idx, unit],
    workgroups,
  });
  return unit;
}

/** Row maxima of scores [B, rows, cols] into out's rows first … first + rows of `total`. */
function rowArgmax(rt: Runtime, scores: Tensor, out: BestMatch, first: number, total: number): void {
  const [batch, rows, cols] = scores.shape as [number, number, number];
  const { workgroups, rowWidth } = grid1d(batch * rows, 1);
  rt.dispatch({
    pipeline: rt.pipeline(`merge_row_argmax_${scores.dtype}`, () => specialize(kernelSource('merge-row-argmax.wgsl'), { dtype: scores.dtype })),
    uniforms: new Uniforms().u32(rows, cols, first, total, rowWidth, batch),
    bindings: [scores, out.similarity, out.destination],
    workgroups,
  });
}

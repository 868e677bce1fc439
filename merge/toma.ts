// ToMA (Lu, Zheng, Xia, Wang, "Token Merge with Attention for Diffusion Models", ICML 2025;
// reference code WenboLuu/ToMA) as an AttentionPlugin: in the full-resolution transformer blocks the
// self-attention (and optionally the feed-forward) runs on N − r merged tokens. Tokens are
// L2-normalised; the grid is cut into tiles; each tile picks its destinations by greedy facility
// location on cosine similarity; every token is softly assigned to its tile's destinations
// (A = softmax over destinations of scale · similarity); merge = (A / rowsum A) · x_tile, unmerge =
// Aᵀ · merged. Destinations and A are recomputed every `recomputeInterval` evaluations and reused in
// between, held in the block's hook state.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { AttentionPlugin, BlockPlace, Evaluation, SublayerWrap } from '../unet/hooks.js';
import { tomaGrid, type TomaGrid } from '../kernels/toma-layout.js';
import { tomaMerge } from '../kernels/toma-merge.js';
import { tomaUnmerge } from '../kernels/toma-unmerge.js';
import { tomaTokenMap } from '../kernels/toma-token-map.js';
import { computeTomaAssignment, type TomaAssignment } from './toma-assignment.js';

export interface TomaOptions {
  /** Fraction of tokens merged away: r = floor(N · ratio), N − r tokens remain. Default 0.5 (the reference's --ratio). */
  readonly ratio?: number;
  /**
   * Tiles the token grid is cut into (√tiles per side on a square grid; near-square tiles
   * otherwise; fewer when there are fewer destinations than tiles). Default 256, the reference's
   * config.yaml num_tiles: 4 x 4-token tiles at SD 1.5 512², the tile size the reference uses at its
   * 64 x 64-token FLUX 1024² grid.
   */
  readonly tiles?: number;
  /** Softmax temperature of the assignment (the reference's attention_scale). Default 1000. */
  readonly scale?: number;
  /** Destinations and weights are computed at an evaluation and reused by the next k − 1. Default 3. */
  readonly recomputeInterval?: number;
  /** Also merge around the feed-forward (with the same assignment). Default false (attention only). */
  readonly mergeMlp?: boolean;
  /** Merge only in blocks whose downsample factor is at most this (tomesd's max_downsample). Default 1. */
  readonly maxDownsample?: number;
}

export const TOMA_DEFAULTS: Readonly<Required<TomaOptions>> = {
  ratio: 0.5,
  tiles: 256,
  scale: 1000,
  recomputeInterval: 3,
  mergeMlp: false,
  maxDownsample: 1,
};

/** One merging block's state (read it, e.g. in tests; the plug-in owns and updates it). */
export interface TomaBlockState {
  readonly place: BlockPlace;
  /** The tile grid and the destinations / weights in use, null before the first merge. */
  readonly grid: TomaGrid | null;
  readonly assignment: TomaAssignment | null;
  /** Evaluation step at which the assignment in use was computed (−1 before the first). */
  readonly computedAt: number;
  /** How many times the assignment has been computed. */
  readonly computations: number;
}

type MutableState = { -readonly [K in keyof TomaBlockState]: TomaBlockState[K] };

/** Checks and completes the options (throws on bad values). */
export function tomaOptions(options: TomaOptions = {}): Required<TomaOptions> {
  const o = { ...TOMA_DEFAULTS, ...options };
  if (!(o.ratio >= 0 && o.ratio < 1)) throw new Error(`toma: ratio ${o.ratio} must be in [0, 1)`);
  if (!Number.isInteger(o.tiles) || o.tiles < 1) throw new Error(`toma: tiles ${o.tiles} must be a positive integer`);
  if (!Number.isFinite(o.scale) || o.scale <= 0) throw new Error(`toma: scale ${o.scale} must be finite and positive`);
  if (!Number.isInteger(o.recomputeInterval) || o.recomputeInterval < 1) {
    throw new Error(`toma: recomputeInterval ${o.recomputeInterval} must be a positive integer`);
  }
  if (!(o.maxDownsample >= 1)) throw new Error(`toma: maxDownsample ${o.maxDownsample} must be at least 1`);
  return o;
}

/** The ToMA plug-in; wrap it in AttentionHooks (one session per generation). */
export function createTomaPlugin(rt: Runtime, options: TomaOptions = {}): AttentionPlugin<TomaBlockState | null> {
  const o = tomaOptions(options);

  const release = (s: MutableState) => {
    if (!s.assignment) return;
    for (const t of Object.values(s.assignment) as Tensor[]) t.dispose();
    s.assignment = null;
  };

  const stale = (s: MutableState, h: Tensor, grid: TomaGrid, step: number): boolean => {
    const a = s.assignment;
    if (!a || s.grid !== grid) return true;
    if (a.dst.shape[0] !== h.shape[0] || a.merge.dtype !== h.dtype) return true;
    // a step before the one it was computed at means a new run of steps through the same session
    return step < s.computedAt || step - s.computedAt >= o.recomputeInterval;
  };

  const prepare = (s: MutableState, h: Tensor, grid: TomaGrid, evaluation: Evaluation) => {
    if (!stale(s, h, grid, evaluation.step)) return;
    release(s);
    const a = computeTomaAssignment(rt, h, grid, o.scale);
    for (const t of Object.values(a) as Tensor[]) rt.keep(t);
    s.assignment = a;
    s.computedAt = evaluation.step;
    s.computations++;
  };

  const gridFor = (s: MutableState, place: BlockPlace, destinations: number): TomaGrid => {
    const g = s.grid;
    if (g && g.width === place.width && g.height === place.height && g.destinations === destinations) return g;
    return tomaGrid(place.width, place.height, o.tiles, destinations);
  };

  return {
    // Every block recomputes at its first evaluation and then every recomputeInterval (runs of
    // steps start at 0).
    evaluationKind: (step) => (step % o.recomputeInterval === 0 ? 'assignment recomputed' : 'assignment reused'),

    createBlockState: (place) =>
      place.downsample <= o.maxDownsample ? { place, grid: null, assignment: null, computedAt: -1, computations: 0 } : null,

    planBlock(_x, { place, evaluation, state }) {
      if (!state) return undefined;
      const s = state as MutableState;
      const removed = Math.floor(place.tokens * o.ratio);
      if (removed <= 0) return undefined;
      const grid = gridFor(s, place, place.tokens - removed);
      // The assignment comes from the merged sublayer's own input (the normed hidden states, as
      // the reference), at the first merge of the pass; the feed-forward reuses it.
      let prepared = false;
      const current = (): TomaAssignment => s.assignment!;
      const wrap: SublayerWrap = {
        merge: (h) => {
          if (!prepared) {
            prepare(s, h, grid, evaluation);
            s.grid = grid;
            prepared = true;
          }
          return tomaMerge(rt, h, current().dst, current().merge, grid);
        },
        unmerge: (y) => tomaUnmerge(rt, y, current().unmerge, grid),
        unmergeAdd: (y, residual) => tomaUnmerge(rt, y, current().unmerge, grid, residual),
      };
      // observers only: the argmax destination of each token, computed when asked (after a merge)
      const tokenMap = (): Tensor => {
        if (!prepared) throw new Error(`toma: ${place.name}: tokenMap is known once the block's first merge has run`);
        return tomaTokenMap(rt, current().unmerge, grid);
      };
      return o.mergeMlp ? { attn1: wrap, ff: wrap, tokenMap } : { attn1: wrap, tokenMap };
    },

    disposeBlockState(state) {
      if (state) release(state as MutableState);
    },
  };
}

// Plain TypeScript ToMA on host arrays, step by step as the toma-* kernels do it: the reference the
// kernel and property tests compare against. Not used on the denoising path.

import { gridTile, tileToken, tokenTile, type TomaGrid } from '../kernels/toma-layout.js';

const f32 = Math.fround;

/** x [B, N, C] → [B·T, nmax, C]: tokens grouped by tile, L2-normalised, zero padding rows. */
export function referenceTiles(x: ArrayLike<number>, batch: number, channels: number, grid: TomaGrid): Float32Array {
  const nmax = grid.maxTileTokens;
  const out = new Float32Array(batch * grid.tiles * nmax * channels);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < grid.tiles; t++) {
      const tile = gridTile(grid, t);
      for (let j = 0; j < tile.tokens; j++) {
        const src = (b * grid.tokens + tileToken(grid, tile, j)) * channels;
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += x[src + c]! ** 2;
        const inv = 1 / Math.max(Math.sqrt(sum), 1e-12);
        const dst = ((b * grid.tiles + t) * nmax + j) * channels;
        for (let c = 0; c < channels; c++) out[dst + c] = x[src + c]! * inv;
      }
    }
  }
  return out;
}

/** tiles [B·T, nmax, C] → per-tile Gram matrices [B·T, nmax, nmax] (cosine similarities). */
export function referenceSimilarity(tiles: ArrayLike<number>, batchTiles: number, nmax: number, channels: number): Float32Array {
  const out = new Float32Array(batchTiles * nmax * nmax);
  for (let bt = 0; bt < batchTiles; bt++) {
    for (let i = 0; i < nmax; i++) {
      for (let j = 0; j < nmax; j++) {
        let dot = 0;
        for (let c = 0; c < channels; c++) dot += tiles[(bt * nmax + i) * channels + c]! * tiles[(bt * nmax + j) * channels + c]!;
        out[(bt * nmax + i) * nmax + j] = dot;
      }
    }
  }
  return out;
}

/**
 * Greedy facility location per tile with the kernel's exact f32 arithmetic (sums over j in
 * ascending order, ties to the lowest index, picked tokens excluded) → dst [B, N − r] grid tokens.
 */
export function referenceSelect(sim: ArrayLike<number>, batch: number, grid: TomaGrid): Uint32Array {
  const nmax = grid.maxTileTokens;
  const dst = new Uint32Array(batch * grid.destinations);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < grid.tiles; t++) {
      const tile = gridTile(grid, t);
      const n = tile.tokens;
      const base = (b * grid.tiles + t) * nmax * nmax;
      const best = new Float32Array(n);
      const taken = new Uint8Array(n);
      for (let k = 0; k < tile.dstCount; k++) {
        let top = -1;
        let topGain = -Infinity;
        for (let i = 0; i < n; i++) {
          if (taken[i]) continue;
          let gain = 0;
          for (let j = 0; j < n; j++) {
            const s = sim[base + i * nmax + j]!;
            gain = f32(gain + (k === 0 ? s : Math.max(f32(s - best[j]!), 0)));
          }
          if (gain > topGain) {
            topGain = gain;
            top = i;
          }
        }
        for (let j = 0; j < n; j++) {
          const s = sim[base + top * nmax + j]!;
          best[j] = k === 0 ? s : Math.max(best[j]!, s);
        }
        taken[top] = 1;
        dst[b * grid.destinations + tile.dstOffset + k] = tileToken(grid, tile, top);
      }
    }
  }
  return dst;
}

export interface ReferenceWeights {
  /** [B, N − r, nmax] */
  readonly merge: Float32Array;
  /** [B, N, dmax] */
  readonly unmerge: Float32Array;
}

/** Softmax over each tile's destinations of scale · similarity; merge rows normalised to sum 1. */
export function referenceWeights(sim: ArrayLike<number>, dst: ArrayLike<number>, batch: number, grid: TomaGrid, scale: number): ReferenceWeights {
  const nmax = grid.maxTileTokens;
  const dmax = grid.maxTileDestinations;
  const merge = new Float32Array(batch * grid.destinations * nmax);
  const unmerge = new Float32Array(batch * grid.tokens * dmax);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < grid.tiles; t++) {
      const tile = gridTile(grid, t);
      const base = (b * grid.tiles + t) * nmax * nmax;
      const rows = Array.from({ length: tile.dstCount }, (_, d) => tokenTile(grid, dst[b * grid.destinations + tile.dstOffset + d]!).local);
      const a = rows.map(() => new Float64Array(tile.tokens));
      for (let j = 0; j < tile.tokens; j++) {
        // logits and their max-subtraction rounded to f32 as in the kernel (at scale 1000 the
        // rounding of scale · s alone moves a weight by ~3e-5)
        const logits = rows.map((r) => f32(scale * sim[base + r * nmax + j]!));
        const m = Math.max(...logits);
        const e = logits.map((l) => Math.exp(f32(l - m)));
        const sum = e.reduce((p, v) => p + v, 0);
        e.forEach((v, d) => (a[d]![j] = v / sum));
        const token = tileToken(grid, tile, j);
        for (let d = 0; d < tile.dstCount; d++) unmerge[(b * grid.tokens + token) * dmax + d] = a[d]![j]!;
      }
      a.forEach((row, d) => {
        const count = row.reduce((p, v) => p + v, 0);
        for (let j = 0; j < tile.tokens; j++) merge[(b * grid.destinations + tile.dstOffset + d) * nmax + j] = count > 0 ? row[j]! / count : 0;
      });
    }
  }
  return { merge, unmerge };
}

/** merged [B, N − r, C] from x [B, N, C]. */
export function referenceMerge(x: ArrayLike<number>, dst: ArrayLike<number>, merge: ArrayLike<number>, batch: number, channels: number, grid: TomaGrid): Float32Array {
  const nmax = grid.maxTileTokens;
  const out = new Float32Array(batch * grid.destinations * channels);
  for (let b = 0; b < batch; b++) {
    for (let m = 0; m < grid.destinations; m++) {
      const row = b * grid.destinations + m;
      const tile = gridTile(grid, tokenTile(grid, dst[row]!).tile);
      for (let j = 0; j < tile.tokens; j++) {
        const w = merge[row * nmax + j]!;
        const src = (b * grid.tokens + tileToken(grid, tile, j)) * channels;
        for (let c = 0; c < channels; c++) out[row * channels + c] += w * x[src + c]!;
      }
    }
  }
  return out;
}

/** [B, N, C] from merged y [B, N − r, C] (+ residual). */
export function referenceUnmerge(
  y: ArrayLike<number>,
  unmerge: ArrayLike<number>,
  batch: number,
  channels: number,
  grid: TomaGrid,
  residual?: ArrayLike<number>,
): Float32Array {
  const dmax = grid.maxTileDestinations;
  const out = new Float32Array(batch * grid.tokens * channels);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < grid.tokens; i++) {
      const row = b * grid.tokens + i;
      const tile = gridTile(grid, tokenTile(grid, i).tile);
      for (let c = 0; c < channels; c++) {
        let acc = residual ? residual[row * channels + c]! : 0;
        for (let d = 0; d < tile.dstCount; d++) {
          acc += unmerge[row * dmax + d]! * y[(b * grid.destinations + tile.dstOffset + d) * channels + c]!;
        }
        out[row * channels + c] = acc;
      }
    }
  }
  return out;
}

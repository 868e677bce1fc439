// Tiled VAE decoding as diffusers' AutoencoderKL.tiled_decode does it: overlapping latent tiles
// decoded one at a time, each blended with its final upper and left neighbours over the overlap
// (linear ramps), and its top-left stride × stride corner kept. Only the edges later tiles blend
// with are kept between tiles, so memory is one tile's activations plus the image.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { crop2d } from '../kernels/crop.js';
import { blendTile } from '../kernels/blend.js';

export interface VaeTiling {
  /** Tile side in latents; default config.sampleSize / scale (64 for SD 1.5, as diffusers). */
  readonly tileSize?: number;
  /**
   * Latents neighbouring tiles share; default tileSize − ⌊0.75·tileSize⌋ (16 of 64: diffusers'
   * tile_overlap_factor 0.25). The blend ramps span overlap·scale pixels.
   */
  readonly overlap?: number;
  /**
   * Destroy the pool's idle buffers whenever the tile size changes (edge tiles are smaller), so
   * buffers of one size do not pile up beside those of another; default true.
   */
  readonly trimPool?: boolean;
  /** Called after each tile is recorded, e.g. for progress. */
  readonly onTile?: (done: number, total: number) => void;
}

export interface TileSpan {
  readonly start: number;
  readonly size: number;
}

/** diffusers' tiles along one side: starts 0, stride, 2·stride, … below length; each min(tile, length − start) long. */
export function tileSpans(length: number, tile: number, stride: number): TileSpan[] {
  const spans: TileSpan[] = [];
  for (let start = 0; start < length; start += stride) spans.push({ start, size: Math.min(tile, length - start) });
  return spans;
}

export interface TiledDecodeJob {
  readonly rt: Runtime;
  /** [B, latent, h, w] in the model dtype. */
  readonly latents: Tensor;
  readonly tileSize: number;
  readonly overlap: number;
  /** Pixels per latent. */
  readonly scale: number;
  readonly outChannels: number;
  /** post_quant_conv + decoder of one latent tile → [B, outChannels, th·scale, tw·scale]. */
  readonly decodeTile: (z: Tensor) => Tensor;
  readonly trimPool: boolean;
  readonly onTile?: (done: number, total: number) => void;
}

/** Decodes job.latents tile by tile into one image [B, outChannels, h·scale, w·scale]. */
export function decodeInTiles(job: TiledDecodeJob): Tensor {
  const { rt, latents, tileSize, overlap, scale } = job;
  const [batch, , height, width] = latents.shape as [number, number, number, number];
  if (!Number.isInteger(tileSize) || tileSize < 1 || !Number.isInteger(overlap) || overlap < 0 || overlap >= tileSize) {
    throw new Error(`VAE tiled decode: tile ${tileSize} with overlap ${overlap}: need whole numbers, 0 ≤ overlap < tile`);
  }
  const stride = tileSize - overlap;
  const rows = tileSpans(height, tileSize, stride);
  const cols = tileSpans(width, tileSize, stride);
  const blend = overlap * scale;
  const keep = stride * scale;
  const dtype = latents.dtype;
  const planes = [batch, job.outChannels];
  const image = rt.empty([...planes, height * scale, width * scale], dtype);

  // Edge strips of finished tiles: the last rows of the previous row's tiles (per column) and the
  // last columns of the tile to the left, final (blended) as the next tiles must see them.
  const strips = new Set<Tensor>();
  const strip = (rows: number, cols: number): Tensor => {
    const t = rt.empty([...planes, rows, cols], dtype);
    strips.add(t);
    return t;
  };
  const drop = (t: Tensor | null): void => {
    if (!t) return;
    strips.delete(t);
    t.dispose();
  };
  let above: (Tensor | null)[] = cols.map(() => null);
  let left: Tensor | null = null;
  let lastShape = '';
  let done = 0;
  try {
    rows.forEach((row, r) => {
      const below: (Tensor | null)[] = [];
      cols.forEach((col, c) => {
        const th = row.size * scale;
        const tw = col.size * scale;
        const shape = `${th}x${tw}`;
        if (job.trimPool && shape !== lastShape && lastShape !== '') {
          // recorded work may still use pooled buffers: submit it before destroying them
          rt.flush();
          rt.pool.trim();
        }
        lastShape = shape;
        const up = above[c] ?? null;
        // without overlap nothing blends, and no edge is kept
        const bottom = blend > 0 && r < rows.length - 1 ? strip(Math.min(blend, th), tw) : undefined;
        const right = blend > 0 && c < cols.length - 1 ? strip(th, Math.min(blend, tw)) : undefined;
        rt.tidy(() => {
          const z = crop2d(rt, latents, { top: row.start, left: col.start, height: row.size, width: col.size });
          const tile = job.decodeTile(z);
          z.dispose();
          const expected = [...planes, th, tw];
          if (tile.shape.some((d, i) => d !== expected[i])) {
            throw new Error(`VAE tiled decode: a tile decoded to ${formatShape(tile.shape)}, expected ${formatShape(expected)}`);
          }
          blendTile(rt, {
            tile,
            image,
            top: row.start * scale,
            left: col.start * scale,
            keepRows: Math.min(keep, th),
            keepCols: Math.min(keep, tw),
            // diffusers: blend_extent = min(a.shape, b.shape, blend_extent); a strip holds min(blend, a.shape)
            above: up ? { strip: up, extent: Math.min(up.shape[2]!, th) } : undefined,
            leftEdge: left ? { strip: left, extent: Math.min(left.shape[3]!, tw) } : undefined,
            bottom,
            right,
          });
          tile.dispose();
        });
        drop(up);
        drop(left);
        left = right ?? null;
        below.push(bottom ?? null);
        rt.flush();
        job.onTile?.(++done, rows.length * cols.length);
      });
      above = below;
    });
  } catch (e) {
    for (const t of strips) t.dispose();
    image.dispose();
    throw e;
  }
  return image;
}

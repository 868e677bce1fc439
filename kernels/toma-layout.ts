// Host side of the ToMA tile geometry in kernels/toma-layout.wgsl: the same integer formulas, so the
// host knows every shape (no readback) and tests can follow the kernels token by token.

import type { Uniforms } from '../runtime/uniforms.js';
import type { Tensor } from '../runtime/tensor.js';
import { kernelSource } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';

/** Largest tile the per-tile kernels hold in workgroup memory (e.g. 32 x 32 tokens). */
export const TOMA_MAX_TILE_TOKENS = 1024;

/** A token grid cut into tiles, with N - r destinations shared out over the tiles. */
export interface TomaGrid {
  readonly width: number;
  readonly height: number;
  readonly tilesX: number;
  readonly tilesY: number;
  /** tilesX · tilesY */
  readonly tiles: number;
  /** N = width · height */
  readonly tokens: number;
  /** N − r: merged tokens, at least one per tile. */
  readonly destinations: number;
  /** Tokens / destinations of the largest tile: the padded strides of the per-tile tensors. */
  readonly maxTileTokens: number;
  readonly maxTileDestinations: number;
}

export interface TomaTile {
  readonly x0: number;
  readonly y0: number;
  readonly w: number;
  readonly h: number;
  readonly tokens: number;
  /** The tile's destinations are merged rows [dstOffset, dstOffset + dstCount). */
  readonly dstOffset: number;
  readonly dstCount: number;
}

/**
 * Cuts a width x height grid into about `tiles` near-square tiles (exactly √tiles per side on a square
 * grid when tiles is a square, as the reference's fold_with_indices), never more tiles than
 * destinations so that every tile keeps at least one.
 */
export function tomaGrid(width: number, height: number, tiles: number, destinations: number): TomaGrid {
  const tokens = width * height;
  if (![width, height, tiles, destinations].every((v) => Number.isInteger(v) && v > 0) || destinations > tokens) {
    throw new Error(`toma: bad tile grid ${width}x${height}, ${tiles} tiles, ${destinations} destinations`);
  }
  // tilesY / tilesX ≈ height / width with tilesX · tilesY ≈ tiles
  let tilesY = Math.min(height, Math.max(1, Math.round(Math.sqrt((tiles * height) / width))));
  let tilesX = Math.min(width, Math.max(1, Math.round(tiles / tilesY)));
  while (tilesX * tilesY > destinations) {
    if (tilesX >= tilesY) tilesX--;
    else tilesY--;
  }
  const count = tilesX * tilesY;
  if (tokens - count > 0xffff) {
    throw new Error(`toma: ${tokens} tokens in ${count} tiles is beyond the kernels' 16-bit offset arithmetic; use more tiles`);
  }
  const maxTileTokens = Math.ceil(width / tilesX) * Math.ceil(height / tilesY);
  if (maxTileTokens > TOMA_MAX_TILE_TOKENS) {
    throw new Error(`toma: tiles of ${maxTileTokens} tokens (grid ${width}x${height} in ${tilesX}x${tilesY}); at most ${TOMA_MAX_TILE_TOKENS}, use more tiles`);
  }
  const base = { width, height, tilesX, tilesY, tiles: count, tokens, destinations, maxTileTokens, maxTileDestinations: 0 };
  let maxTileDestinations = 0;
  for (let t = 0; t < count; t++) maxTileDestinations = Math.max(maxTileDestinations, gridTile(base, t).dstCount);
  return { ...base, maxTileDestinations };
}

function tileDstOffset(g: TomaGrid, t: number): number {
  if (t >= g.tiles) return g.destinations;
  const ty = Math.floor(t / g.tilesX);
  const tx = t % g.tilesX;
  const y0 = Math.floor((ty * g.height) / g.tilesY);
  const y1 = Math.floor(((ty + 1) * g.height) / g.tilesY);
  const x0 = Math.floor((tx * g.width) / g.tilesX);
  const before = y0 * g.width + (y1 - y0) * x0;
  const spare = g.tokens - g.tiles;
  if (spare === 0) return t;
  return t + Math.floor(((g.destinations - g.tiles) * (before - t)) / spare);
}

export function gridTile(g: TomaGrid, t: number): TomaTile {
  const ty = Math.floor(t / g.tilesX);
  const tx = t % g.tilesX;
  const x0 = Math.floor((tx * g.width) / g.tilesX);
  const x1 = Math.floor(((tx + 1) * g.width) / g.tilesX);
  const y0 = Math.floor((ty * g.height) / g.tilesY);
  const y1 = Math.floor(((ty + 1) * g.height) / g.tilesY);
  const dstOffset = tileDstOffset(g, t);
  return { x0, y0, w: x1 - x0, h: y1 - y0, tokens: (x1 - x0) * (y1 - y0), dstOffset, dstCount: tileDstOffset(g, t + 1) - dstOffset };
}

/** Grid token index of local token j of a tile. */
export function tileToken(g: TomaGrid, tile: TomaTile, j: number): number {
  return (tile.y0 + Math.floor(j / tile.w)) * g.width + tile.x0 + (j % tile.w);
}

/** The tile of grid token i and i's local index in it. */
export function tokenTile(g: TomaGrid, i: number): { tile: number; local: number } {
  const x = i % g.width;
  const y = Math.floor(i / g.width);
  const tx = Math.ceil(((x + 1) * g.tilesX) / g.width) - 1;
  const ty = Math.ceil(((y + 1) * g.tilesY) / g.height) - 1;
  const tile = gridTile(g, ty * g.tilesX + tx);
  return { tile: ty * g.tilesX + tx, local: (y - tile.y0) * tile.w + x - tile.x0 };
}

/** Pushes the WGSL TileGrid struct (the first member of every toma-* kernel's uniforms). */
export function pushTileGrid(u: Uniforms, g: TomaGrid): Uniforms {
  return u.u32(g.width, g.height, g.tilesX, g.tilesY, g.tokens, g.destinations, g.maxTileTokens, g.maxTileDestinations);
}

/** A toma-* kernel's WGSL with the tile geometry helpers in front. */
export function tomaKernelSource(file: string): string {
  return kernelSource('toma-layout.wgsl') + kernelSource(file);
}

/** Throws unless x is [B, N, C] with the grid's N. */
export function checkGridTokens(kernel: string, what: string, x: Tensor, g: TomaGrid): void {
  if (x.rank !== 3 || x.shape[1] !== g.tokens) {
    throw new Error(`${kernel}: ${what} ${formatShape(x.shape)} must be [B, ${g.tokens}, C] for the ${g.width}x${g.height} grid`);
  }
}

/** Workgroup count check for the one-workgroup-per-(batch, tile) kernels, dispatched as [tiles, batch]. */
export function tileWorkgroups(kernel: string, g: TomaGrid, batch: number): [number, number] {
  if (g.tiles > 65535 || batch > 65535) throw new Error(`${kernel}: ${g.tiles} tiles x batch ${batch} over the dispatch limit`);
  return [g.tiles, batch];
}

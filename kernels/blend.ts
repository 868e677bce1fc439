import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';

/** A neighbour's final edge: its last rows (above) or columns (left), and how many to blend. */
export interface BlendEdge {
  readonly strip: Tensor;
  readonly extent: number;
}

export interface TileBlend {
  /** The decoded tile [..., th, tw] (read only). */
  readonly tile: Tensor;
  /** The image [..., H, W] receiving the tile's kept corner at (top, left). */
  readonly image: Tensor;
  readonly top: number;
  readonly left: number;
  /** Rows and columns of the tile's top-left corner written to the image (≤ th, ≤ tw). */
  readonly keepRows: number;
  readonly keepCols: number;
  /** The tile above's last rows [..., rows, tw]; its last `extent` rows blend into the first ones. */
  readonly above?: BlendEdge;
  /** The left tile's last columns [..., th, cols]; its last `extent` columns blend into the first ones. */
  readonly leftEdge?: BlendEdge;
  /** Receives the blended tile's last rows [..., rows, tw] (rows ≤ th) for the tile below. */
  readonly bottom?: Tensor;
  /** Receives the blended tile's last columns [..., th, cols] (cols ≤ tw) for the tile to the right. */
  readonly right?: Tensor;
}

/**
 * One step of diffusers' tiled VAE decode for one tile: blend_v with the (final) tile above, then
 * blend_h with the (final) tile to the left, b[k] = a[−e + k]·(1 − k/e) + b[k]·(k/e) for k < e,
 * then write the kept corner into the image and the edges the later neighbours need. Leading
 * dimensions (batch, channels) must agree everywhere. f32 math, stored in the tile's dtype.
 */
export function blendTile(rt: Runtime, b: TileBlend): void {
  const { tile, image } = b;
  const fail = (why: string): never => {
    throw new Error(`blendTile: tile ${formatShape(tile.shape)}, image ${formatShape(image.shape)}: ${why}`);
  };
  if (tile.rank < 2 || tile.dtype === 'u32') fail('tensors must be [..., rows, cols] f32/f16');
  const lead = tile.shape.slice(0, -2);
  const th = tile.shape[tile.rank - 2]!;
  const tw = tile.shape[tile.rank - 1]!;
  const dims = (t: Tensor, what: string): [number, number] => {
    if (t.dtype !== tile.dtype) fail(`${what} is ${t.dtype}, the tile ${tile.dtype}`);
    if (t.rank !== tile.rank || lead.some((d, i) => t.shape[i] !== d)) fail(`${what} ${formatShape(t.shape)} must be [${lead.join(', ')}, rows, cols]`);
    return [t.shape[t.rank - 2]!, t.shape[t.rank - 1]!];
  };
  const [outH, outW] = dims(image, 'image');
  const whole = (...v: number[]) => v.every((x) => Number.isInteger(x) && x >= 0);
  if (!whole(b.top, b.left, b.keepRows, b.keepCols) || b.keepRows > th || b.keepCols > tw) fail(`bad kept corner ${b.keepRows}x${b.keepCols}`);
  if (b.top + b.keepRows > outH || b.left + b.keepCols > outW) fail(`the kept ${b.keepRows}x${b.keepCols} at (${b.top}, ${b.left}) leaves the image`);
  let aboveRows = 0;
  if (b.above) {
    const [rows, cols] = dims(b.above.strip, 'above strip');
    if (cols !== tw || !whole(b.above.extent) || b.above.extent > rows || b.above.extent > th) fail(`above strip ${formatShape(b.above.strip.shape)} with extent ${b.above.extent}`);
    aboveRows = rows;
  }
  let leftCols = 0;
  if (b.leftEdge) {
    const [rows, cols] = dims(b.leftEdge.strip, 'left strip');
    if (rows !== th || !whole(b.leftEdge.extent) || b.leftEdge.extent > cols || b.leftEdge.extent > tw) fail(`left strip ${formatShape(b.leftEdge.strip.shape)} with extent ${b.leftEdge.extent}`);
    leftCols = cols;
  }
  let bottomRows = 0;
  if (b.bottom) {
    const [rows, cols] = dims(b.bottom, 'bottom strip');
    if (cols !== tw || rows > th) fail(`bottom strip ${formatShape(b.bottom.shape)} must be [..., ≤${th}, ${tw}]`);
    bottomRows = rows;
  }
  let rightCols = 0;
  if (b.right) {
    const [rows, cols] = dims(b.right, 'right strip');
    if (rows !== th || cols > tw) fail(`right strip ${formatShape(b.right.shape)} must be [..., ${th}, ≤${tw}]`);
    rightCols = cols;
  }
  const all = [tile, b.above?.strip, b.leftEdge?.strip, image, b.bottom, b.right];
  const writable = new Set([3, 4, 5]);
  all.forEach((w, i) => {
    if (!w || !writable.has(i)) return;
    if (all.some((t, j) => t && j !== i && t.buffer === w.buffer)) fail('an output shares a buffer with another binding');
  });
  if (tile.size === 0) return;

  // Absent edges still need a binding (layout 'auto' keeps every declared one); each its own buffer.
  const spare: Tensor[] = [];
  const orSpare = (t: Tensor | undefined): Tensor => {
    if (t && t.size > 0) return t; // a zero-sized binding is invalid; an empty edge reads and writes nothing
    const s = rt.empty([1], tile.dtype);
    spare.push(s);
    return s;
  };
  const { workgroups, rowWidth } = grid1d(tile.size, 256);
  rt.dispatch({
    pipeline: rt.pipeline(`blend_tile_${tile.dtype}`, () => specialize(kernelSource('blend_tile.wgsl'), { dtype: tile.dtype })),
    uniforms: new Uniforms().u32(
      tile.size,
      th,
      tw,
      b.above?.extent ?? 0,
      aboveRows,
      b.leftEdge?.extent ?? 0,
      leftCols,
      b.keepRows,
      b.keepCols,
      outH,
      outW,
      b.top,
      b.left,
      bottomRows,
      rightCols,
      rowWidth,
    ),
    bindings: [tile, orSpare(b.above?.strip), orSpare(b.leftEdge?.strip), image, orSpare(b.bottom), orSpare(b.right)],
    workgroups,
  });
  // the pool hands these out again only to later dispatches, which run after this one
  for (const t of spare) t.dispose();
}

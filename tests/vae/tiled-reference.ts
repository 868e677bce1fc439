// diffusers' AutoencoderKL.tiled_decode written out literally on host arrays (tiles blended in
// place in raster order, torch's f32 rounding of each operation), as the tiled tests' reference.

/** A host NCHW tensor. */
export interface HostImage {
  readonly shape: readonly [number, number, number, number];
  readonly data: Float32Array;
}

export function cropHost(x: HostImage, top: number, left: number, height: number, width: number): HostImage {
  const [b, c, h, w] = x.shape;
  const h2 = Math.min(height, h - top);
  const w2 = Math.min(width, w - left);
  const out = new Float32Array(b * c * h2 * w2);
  for (let p = 0; p < b * c; p++) {
    for (let y = 0; y < h2; y++) out.set(x.data.subarray((p * h + top + y) * w + left, (p * h + top + y) * w + left + w2), (p * h2 + y) * w2);
  }
  return { shape: [b, c, h2, w2], data: out };
}

const f = Math.fround;

function blendV(a: HostImage, b: HostImage, extent: number): void {
  const e = Math.min(a.shape[2], b.shape[2], extent);
  const [, , ah, w] = a.shape;
  const [bb, c, bh] = b.shape;
  for (let y = 0; y < e; y++) {
    const wa = f(1 - y / e);
    const wb = f(y / e);
    for (let p = 0; p < bb * c; p++) {
      for (let x = 0; x < w; x++) {
        const i = (p * bh + y) * w + x;
        b.data[i] = f(f(a.data[(p * ah + ah - e + y) * w + x]! * wa) + f(b.data[i]! * wb));
      }
    }
  }
}

function blendH(a: HostImage, b: HostImage, extent: number): void {
  const e = Math.min(a.shape[3], b.shape[3], extent);
  const aw = a.shape[3];
  const [bb, c, h, bw] = b.shape;
  for (let x = 0; x < e; x++) {
    const wa = f(1 - x / e);
    const wb = f(x / e);
    for (let p = 0; p < bb * c; p++) {
      for (let y = 0; y < h; y++) {
        const i = (p * h + y) * bw + x;
        b.data[i] = f(f(a.data[(p * h + y) * aw + aw - e + x]! * wa) + f(b.data[i]! * wb));
      }
    }
  }
}

/**
 * tiled_decode with tile_latent_min_size = tile, overlap_size = tile − overlap,
 * blend_extent = overlap·scale, row_limit = (tile − overlap)·scale; decodeTile maps a latent tile
 * to its image.
 */
export async function diffusersTiledDecode(
  z: HostImage,
  tile: number,
  overlap: number,
  scale: number,
  decodeTile: (tile: HostImage) => Promise<HostImage>,
): Promise<HostImage> {
  const step = tile - overlap;
  const blend = overlap * scale;
  const rowLimit = step * scale;
  const rows: HostImage[][] = [];
  for (let i = 0; i < z.shape[2]; i += step) {
    const row: HostImage[] = [];
    for (let j = 0; j < z.shape[3]; j += step) row.push(await decodeTile(cropHost(z, i, j, tile, tile)));
    rows.push(row);
  }
  const kept: HostImage[][] = rows.map((row, i) =>
    row.map((t, j) => {
      if (i > 0) blendV(rows[i - 1]![j]!, t, blend);
      if (j > 0) blendH(row[j - 1]!, t, blend);
      return cropHost(t, 0, 0, rowLimit, rowLimit);
    }),
  );
  // torch.cat of the kept corners: along W within a row, then the rows along H
  const [b, c] = kept[0]![0]!.shape;
  const height = kept.reduce((s, row) => s + row[0]!.shape[2], 0);
  const width = kept[0]!.reduce((s, t) => s + t.shape[3], 0);
  const out = new Float32Array(b * c * height * width);
  let y0 = 0;
  for (const row of kept) {
    let x0 = 0;
    for (const t of row) {
      const [, , th, tw] = t.shape;
      for (let p = 0; p < b * c; p++) {
        for (let y = 0; y < th; y++) out.set(t.data.subarray((p * th + y) * tw, (p * th + y + 1) * tw), (p * height + y0 + y) * width + x0);
      }
      x0 += tw;
    }
    y0 += row[0]!.shape[2];
  }
  return { shape: [b, c, height, width], data: out };
}

// Plain TypeScript references for the importance-merging kernels (tests/kernels/importance-*.test.ts).

/** ‖ε[images + i, :, p] − ε[i, :, p]‖ per image and position: [images · H · W]. */
export function referenceGuidanceMagnitude(eps: ArrayLike<number>, [batch, channels, height, width]: readonly number[]): Float32Array {
  const images = batch! / 2;
  const pixels = height! * width!;
  const out = new Float32Array(images * pixels);
  for (let i = 0; i < images; i++) {
    for (let p = 0; p < pixels; p++) {
      let s = 0;
      for (let c = 0; c < channels!; c++) {
        const d = eps[((images + i) * channels! + c) * pixels + p]! - eps[(i * channels! + c) * pixels + p]!;
        s += d * d;
      }
      out[i * pixels + p] = Math.sqrt(s);
    }
  }
  return out;
}

/** factor × factor mean pooling with clipped edge cells: [images · ⌈H/f⌉ · ⌈W/f⌉]. */
export function referencePool(map: ArrayLike<number>, [images, height, width]: readonly number[], factor: number): Float32Array {
  const oh = Math.ceil(height! / factor);
  const ow = Math.ceil(width! / factor);
  const out = new Float32Array(images! * oh * ow);
  for (let i = 0; i < images!; i++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let s = 0;
        let n = 0;
        for (let y = oy * factor; y < Math.min((oy + 1) * factor, height!); y++) {
          for (let x = ox * factor; x < Math.min((ox + 1) * factor, width!); x++) {
            s += map[(i * height! + y) * width! + x]!;
            n++;
          }
        }
        out[(i * oh + oy) * ow + ox] = s / n;
      }
    }
  }
  return out;
}

/** The PCG hash of importance-draw.wgsl. */
export function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** importance-draw's keys: a hashed uniform in [0, 1) for the pool (importance rank < pool), −1 else. */
export function referenceDrawKeys(importanceRank: ArrayLike<number>, images: number, tokens: number, pool: number, seed: number): Float32Array {
  const keys = new Float32Array(images * tokens);
  for (let i = 0; i < images; i++) {
    for (let t = 0; t < tokens; t++) {
      const h = pcg((t ^ pcg((i ^ pcg(seed >>> 0)) >>> 0)) >>> 0);
      keys[i * tokens + t] = importanceRank[i * tokens + t]! < pool ? (h >>> 8) / 16777216 : -1;
    }
  }
  return keys;
}

/** importance-partition's split per batch row (row b from image b mod images). */
export function referencePoolSplit(drawRank: ArrayLike<number>, images: number, tokens: number, batch: number, pool: number, nDst: number) {
  const nSrc = tokens - nDst;
  const dst = new Array<number>(batch * nDst).fill(-1);
  const src = new Array<number>(batch * nSrc).fill(-1);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < tokens; t++) {
      const k = drawRank[(b % images) * tokens + t]!;
      if (k < nDst) dst[b * nDst + k] = t;
      else if (k < pool) src[b * nSrc + (tokens - pool) + (k - nDst)] = t;
      else src[b * nSrc + (k - pool)] = t;
    }
  }
  return { dst, src };
}

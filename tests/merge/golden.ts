// golden/merge.safetensors: tomesd and ca_tome outputs on x [2, N, 32] for three token grids.

import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';

export const MERGE_CASES: readonly { readonly width: number; readonly height: number }[] = [
  { width: 16, height: 16 },
  { width: 12, height: 8 },
  { width: 13, height: 9 },
];

export interface MergeGolden {
  read(name: string): Promise<Float32Array>;
  shape(name: string): readonly number[];
  /** Uploads an entry as f32 (freed by the caller or the enclosing tidy). */
  upload(rt: Runtime, name: string): Promise<Tensor>;
  close(): Promise<void>;
}

export async function openMergeGolden(): Promise<MergeGolden> {
  const file = await SafetensorsFile.open(fromRoot('tests', 'fixtures', 'tiny-sd', 'golden', 'merge.safetensors'));
  return {
    read: (name) => file.readFloat32(name),
    shape: (name) => file.entry(name).shape,
    upload: async (rt, name) => rt.upload(await file.readFloat32(name), file.entry(name).shape, 'f32'),
    close: () => file.close(),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}

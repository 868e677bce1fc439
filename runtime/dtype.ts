/**
 * Element types a tensor can hold on the GPU: f32/f16 for values (weights stored as BF16 are
 * widened on load), u32 for token ids and merge indices.
 */
export type DType = 'f32' | 'f16' | 'u32';

/** The floating-point subset activations and weights use. */
export type FloatDType = 'f32' | 'f16';

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f16' ? 2 : 4;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

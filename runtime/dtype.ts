/** Element types a tensor can hold on the GPU. Weights stored as BF16 are widened on load. */
export type DType = 'f32' | 'f16';

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f32' ? 4 : 2;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

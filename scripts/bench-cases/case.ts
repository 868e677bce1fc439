import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import { elementCount, type DType } from '../../runtime/dtype.js';

/** One kernel at one shape: setup allocates inputs, run records one call, dispose frees them. */
export interface BenchCase {
  /** e.g. "matmul 4096x4096x4096". */
  readonly name: string;
  /** The kernel family, for --filter. */
  readonly kernel: string;
  readonly dtype: DType;
  /** Useful floating-point operations of one call (0 for memory-bound kernels). */
  readonly flops: number;
  /** Bytes one call must move at least (inputs read once, outputs written once). */
  readonly bytes: number;
  /** Variant tag the kernel chose (tile shape, subgroup-matrix or not), shown in the report. */
  setup(rt: Runtime): { run(): void; variant?: string; dispose(): void };
}

const randomCache = new Map<string, Float32Array>();

/**
 * Seeded values of unit variance: benchmarks never time zeros, which can run faster than real data
 * (and, in attention, hide how often the softmax rescales).
 */
function randomValues(n: number, seed: number): Float32Array {
  const key = `${n}:${seed}`;
  const cached = randomCache.get(key);
  if (cached) return cached;
  const out = new Float32Array(n);
  randomCache.set(key, out);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 3.46 - 1.73;
  }
  return out;
}

/** A benchmark input of this shape filled with randomValues. */
export function randomTensor(rt: Runtime, shape: readonly number[], dtype: DType, seed: number): Tensor {
  return rt.upload(randomValues(elementCount(shape), seed), shape, dtype);
}

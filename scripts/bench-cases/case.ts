import type { Runtime } from '../../runtime/runtime.js';
import type { DType } from '../../runtime/dtype.js';

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

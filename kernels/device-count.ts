// Sizes that live on the GPU. A kernel writes a u32 (e.g. CA-ToMe's data-dependent merge count)
// and later kernels of the same command stream read it as a bound, so the host never waits for it.
// Tensors that depend on such a size keep a fixed capacity; the count says how much of it is real.

import type { Tensor } from '../runtime/tensor.js';

/** Element `index` of a u32 tensor, written by an earlier kernel; the host never reads it. */
export interface DeviceCount {
  readonly tensor: Tensor;
  readonly index: number;
}

export function checkDeviceCount(kernel: string, what: string, c: DeviceCount): void {
  if (c.tensor.dtype !== 'u32' || !Number.isInteger(c.index) || c.index < 0 || c.index >= c.tensor.size) {
    throw new Error(`${kernel}: ${what} is element ${c.index} of ${c.tensor}, expected an element of a u32 tensor`);
  }
}

/**
 * WGSL for `fn <name>() -> u32`: element `index` of a read-only storage buffer at `binding` when a
 * count is given, else the WGSL expression `host` (e.g. a uniform field). The index is a constant,
 * so the loaded value is uniform (WGSL treats read-only storage as uniform): it may bound a loop
 * that holds barriers or decide an early return of a whole workgroup.
 */
export function countFunction(name: string, binding: number, count: DeviceCount | undefined, host: string): string {
  if (!count) return `fn ${name}() -> u32 { return ${host}; }\n`;
  return (
    `@group(0) @binding(${binding}) var<storage, read> ${name}_buffer: array<u32>;\n` +
    `fn ${name}() -> u32 { return ${name}_buffer[${count.index}u]; }\n`
  );
}

import type { Workgroups } from '../runtime/runtime.js';

const MAX_X = 65535;

/**
 * Workgroup counts for a 1-D problem of n items, folded into 2-D when it exceeds the per-dimension
 * limit. Kernels recover the flat index as gid.y * rowWidth + gid.x.
 */
export function grid1d(n: number, workgroupSize: number): { workgroups: Workgroups; rowWidth: number } {
  const groups = Math.max(1, Math.ceil(n / workgroupSize));
  if (groups <= MAX_X) return { workgroups: [groups], rowWidth: groups * workgroupSize };
  const y = Math.ceil(groups / MAX_X);
  const x = Math.ceil(groups / y);
  return { workgroups: [x, y], rowWidth: x * workgroupSize };
}

import type { Runtime } from '../runtime/runtime.js';
import { kernelSource } from '../runtime/wgsl.js';

/** Invocations per workgroup of the reduction kernels (norms, softmax). */
export const ROW_WORKGROUP = 256;

export interface RowTeam {
  /** Invocations that share one row (power of two dividing ROW_WORKGROUP). */
  readonly team: number;
  readonly rowsPerGroup: number;
}

/** Sizes the team for a row of rowVecs vectors: about four vectors per invocation, at most maxTeam. */
export function rowTeam(rowVecs: number, maxTeam: number): RowTeam {
  const team = Math.min(maxTeam, ROW_WORKGROUP, nextPowerOfTwo(Math.ceil(rowVecs / 4)));
  return { team, rowsPerGroup: ROW_WORKGROUP / team };
}

export interface TeamReduction {
  /** WGSL defining team_combine, team_sum, team_max, team_moments and team_softmax (team_ops.wgsl). */
  readonly source: string;
  readonly enables: readonly string[];
  readonly consts: Readonly<Record<string, number>>;
  /**
   * Widest team for row kernels: one subgroup on the subgroup path, so rows reduce with shuffles
   * alone (no barriers); the whole workgroup on the portable path.
   */
  readonly maxTeam: number;
  /** 'subgroup' or 'plain', for pipeline labels and benchmark variants. */
  readonly variant: string;
}

/**
 * The team reduction for this device: subgroup shuffles when the device has subgroups of one fixed
 * size (so loops over it are compile-time constant), else the portable workgroup-memory version.
 */
export function teamReduction(rt: Runtime): TeamReduction {
  const ops = kernelSource('team_ops.wgsl');
  const sg = fixedSubgroupSize(rt);
  if (sg !== null) {
    return {
      source: `${ops}\n${kernelSource('team_reduce_subgroup.wgsl')}`,
      enables: ['subgroups'],
      consts: { SG: sg },
      maxTeam: sg,
      variant: 'subgroup',
    };
  }
  return { source: `${ops}\n${kernelSource('team_reduce_plain.wgsl')}`, enables: [], consts: {}, maxTeam: ROW_WORKGROUP, variant: 'plain' };
}

function fixedSubgroupSize(rt: Runtime): number | null {
  if (!rt.features.subgroups) return null;
  const info = rt.device.adapterInfo;
  const min = info.subgroupMinSize;
  const max = info.subgroupMaxSize;
  if (!min || min !== max || (min & (min - 1)) !== 0 || min > ROW_WORKGROUP) return null;
  return min;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

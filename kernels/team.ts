import type { Runtime } from '../runtime/runtime.js';
import { kernelSource } from '../runtime/wgsl.js';

/** Invocations per workgroup of the reduction kernels (norms, softmax). */
export const ROW_WORKGROUP = 256;
/**
 * Row team on the portable path, where every invocation folds its whole team serially. One fixed
 * size keeps the variants few; at 32 and below, CPU drivers unroll that fold and take seconds to
 * compile it.
 */
const PLAIN_TEAM = 64;

export interface TeamReduction {
  /** WGSL defining team_combine, team_sum, team_max, team_moments and team_softmax (team_ops.wgsl). */
  readonly source: string;
  readonly enables: readonly string[];
  readonly consts: Readonly<Record<string, number>>;
  /**
   * Invocations per row in the row kernels (a power of two dividing ROW_WORKGROUP): one subgroup
   * on the subgroup path, so rows reduce with shuffles alone (no barriers); PLAIN_TEAM otherwise.
   * SD's rows (77 to 1280 values) keep a 32-wide team busy.
   */
  readonly rowTeam: number;
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
      rowTeam: sg,
      variant: 'subgroup',
    };
  }
  return { source: `${ops}\n${kernelSource('team_reduce_plain.wgsl')}`, enables: [], consts: {}, rowTeam: PLAIN_TEAM, variant: 'plain' };
}

function fixedSubgroupSize(rt: Runtime): number | null {
  if (!rt.features.subgroups) return null;
  const info = rt.device.adapterInfo;
  const min = info.subgroupMinSize;
  const max = info.subgroupMaxSize;
  if (!min || min !== max || (min & (min - 1)) !== 0 || min > ROW_WORKGROUP) return null;
  return min;
}


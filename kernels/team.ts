import type { Runtime } from '../runtime/runtime.js';
import { kernelSource } from '../runtime/wgsl.js';

/** Invocations per workgroup of the row kernels (norms, softmax). */
export const ROW_WORKGROUP = 256;
/** Most vectors one invocation keeps in registers; longer rows are re-read from memory instead. */
const MAX_CACHED_ITEMS = 16;

export interface RowTeam {
  /** Invocations that share one row (power of two dividing ROW_WORKGROUP). */
  readonly team: number;
  readonly rowsPerGroup: number;
  /** Vectors each invocation holds when the row is cached in registers (1 when it is not). */
  readonly items: number;
  /** Whether the row fits in registers, so it is read from memory once. */
  readonly cached: boolean;
}

/** Sizes the team for a row of rowVecs vectors: about four vectors per invocation. */
export function rowTeam(rowVecs: number): RowTeam {
  const team = Math.min(ROW_WORKGROUP, nextPowerOfTwo(Math.ceil(rowVecs / 4)));
  const items = Math.ceil(rowVecs / team);
  const cached = items <= MAX_CACHED_ITEMS;
  return { team, rowsPerGroup: ROW_WORKGROUP / team, items: cached ? items : 1, cached };
}

export interface TeamReduction {
  /** WGSL defining team_sum(v: f32, li), team_sum2(v: vec2f, li) and team_max(v: f32, li). */
  readonly source: string;
  readonly enables: readonly string[];
  readonly consts: Readonly<Record<string, number>>;
  /** 'subgroup' or 'plain', for pipeline labels and benchmark variants. */
  readonly variant: string;
}

/**
 * The team reduction for this device: subgroup shuffles when the device has subgroups of one fixed
 * size (so loops over it are compile-time constant), else the portable workgroup-memory tree.
 */
export function teamReduction(rt: Runtime): TeamReduction {
  const sg = fixedSubgroupSize(rt);
  if (sg !== null) {
    return { source: kernelSource('team_reduce_subgroup.wgsl'), enables: ['subgroups'], consts: { SG: sg }, variant: 'subgroup' };
  }
  return { source: kernelSource('team_reduce_plain.wgsl'), enables: [], consts: {}, variant: 'plain' };
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

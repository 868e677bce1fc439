import type { DType } from '../runtime/dtype.js';

/** Elements per storage access: 4 (vec4 loads and stores) when every count divides by 4, else 1. */
export type LaneWidth = 1 | 4;

export function laneWidth(...counts: number[]): LaneWidth {
  return counts.every((c) => c % 4 === 0) ? 4 : 1;
}

/** Aliases for specialize(): `name` (default VS) = storage vector of dtype, VF = the same shape in f32. */
export function laneAliases(dtype: DType, width: LaneWidth, name = 'VS'): Record<string, string> {
  return width === 4 ? { [name]: `vec4<${dtype}>`, VF: 'vec4<f32>' } : { [name]: dtype, VF: 'f32' };
}

/**
 * WGSL helpers that hide the lane width from kernel files: hsum / hmax (VF → f32) and, for each
 * scalar `fn name(x: f32) -> f32` listed, `name_lanes(v: VF) -> VF` applying it per lane. WGSL has
 * no generics, so these few lines are the only width-dependent text a kernel needs.
 */
export function laneHelpers(width: LaneWidth, scalarFns: readonly string[] = []): string {
  const lines: string[] = [];
  if (width === 4) {
    lines.push('fn hsum(v: VF) -> f32 { return (v.x + v.y) + (v.z + v.w); }');
    lines.push('fn hmax(v: VF) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }');
    for (const f of scalarFns) lines.push(`fn ${f}_lanes(v: VF) -> VF { return VF(${f}(v.x), ${f}(v.y), ${f}(v.z), ${f}(v.w)); }`);
  } else {
    lines.push('fn hsum(v: VF) -> f32 { return v; }');
    lines.push('fn hmax(v: VF) -> f32 { return v; }');
    for (const f of scalarFns) lines.push(`fn ${f}_lanes(v: VF) -> VF { return ${f}(v); }`);
  }
  return `${lines.join('\n')}\n`;
}

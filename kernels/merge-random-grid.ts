import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource } from '../runtime/wgsl.js';

/**
 * One random destination token per sx×sy cell of a width×height grid (cells row-major; remainder
 * rows/columns get none, as in tomesd): [⌊h/sy⌋·⌊w/sx⌋] u32. The pick is a hash of (seed, cell),
 * so no host data moves per call.
 */
export function randomGridDestinations(rt: Runtime, width: number, height: number, sx: number, sy: number, seed: number): Tensor {
  for (const [name, v] of Object.entries({ width, height, sx, sy })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`randomGridDestinations: ${name} = ${v} must be a positive integer`);
  }
  const cellsX = Math.floor(width / sx);
  const cells = cellsX * Math.floor(height / sy);
  const dst = rt.empty([cells], 'u32');
  if (cells === 0) return dst;
  rt.dispatch({
    pipeline: rt.pipeline('merge_random_grid', kernelSource('merge-random-grid.wgsl')),
    uniforms: new Uniforms().u32(width, cellsX, cells, sx, sy, seed >>> 0),
    bindings: [dst],
    workgroups: [Math.ceil(cells / 64)],
  });
  return dst;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { laneAliases, laneHelpers, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';
import { ROW_WORKGROUP, teamReduction } from './team.js';

/** softmax over the last dim of x: [..., N], of x·scale (scale default 1), f32 math, max-subtracted. */
export function softmax(rt: Runtime, x: Tensor, options: { scale?: number; out?: Tensor } = {}): Tensor {
  const scale = options.scale ?? 1;
  const cols = x.shape[x.rank - 1];
  if (cols === undefined || cols === 0) throw new Error(`softmax: x ${formatShape(x.shape)} needs a non-empty last dim`);
  if (!Number.isFinite(scale)) throw new Error(`softmax: scale ${scale} is not finite`);
  const result = resultTensor(rt, 'softmax', x.shape, x.dtype, options.out, [x]);
  const rows = x.size / cols;
  if (rows === 0) return result;

  const width = laneWidth(cols);
  const rowVecs = cols / width;
  const reduction = teamReduction(rt);
  const team = reduction.rowTeam;
  const code = () => specialize(laneHelpers(width) + reduction.source + kernelSource('softmax.wgsl'), {
    dtype: x.dtype,
    enables: reduction.enables,
    aliases: laneAliases(x.dtype, width),
    consts: { ...reduction.consts, W: width, WG: ROW_WORKGROUP, TEAM: team },
  });
  const { workgroups, rowWidth } = grid1d(rows, ROW_WORKGROUP / team);
  rt.dispatch({
    pipeline: rt.pipeline(`softmax_${x.dtype}_w${width}_t${team}_${reduction.variant}`, code),
    uniforms: new Uniforms().u32(rows, rowVecs, rowWidth).f32(scale),
    bindings: [x, result],
    workgroups,
  });
  return result;
}

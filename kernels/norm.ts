import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { laneAliases, laneHelpers, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';
import { ROW_WORKGROUP, teamReduction } from './team.js';

export interface GroupNormOptions {
  groups: number;
  eps: number;
  /** apply SiLU after the affine (ResNet blocks) */
  silu?: boolean;
  out?: Tensor;
}

/** Fewest vectors per invocation in a chunk (amortises the per-workgroup reduction). */
const MIN_VECS_PER_INVOCATION = 4;
/** Most chunks per group: every apply workgroup merges this many partial statistics. */
const MAX_CHUNKS = 32;

/**
 * x: [B, C, ...spatial] (NCHW, any number of spatial dims incl. none), gamma/beta: [C] → same shape.
 * Statistics per (batch, group) in f32, shifted by the group's first values and merged with Chan
 * et al.'s update (no catastrophic cancellation for large means). Two dispatches: chunk
 * statistics, then merge + normalise (+ SiLU). gamma/beta may be f32 or f16 independently of x.
 */
export function groupNorm(rt: Runtime, x: Tensor, gamma: Tensor, beta: Tensor, options: GroupNormOptions): Tensor {
  const { groups, eps, silu = false } = options;
  const [batch, channels] = x.shape;
  if (batch === undefined || channels === undefined) throw new Error(`groupNorm: x ${formatShape(x.shape)} needs [B, C, ...]`);
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) {
    throw new Error(`groupNorm: ${channels} channels of ${formatShape(x.shape)} do not split into ${groups} groups`);
  }
  checkAffine('groupNorm', x, gamma, beta, channels);
  const result = resultTensor(rt, 'groupNorm', x.shape, x.dtype, options.out, [x, gamma, beta]);
  if (x.size === 0) return result;

  const spatial = x.size / (batch * channels);
  const width = laneWidth(spatial);
  const channelsPerGroup = channels / groups;
  const groupVecs = (channelsPerGroup * spatial) / width;
  const chunkVecs = Math.max(ROW_WORKGROUP * MIN_VECS_PER_INVOCATION, Math.ceil(groupVecs / MAX_CHUNKS / ROW_WORKGROUP) * ROW_WORKGROUP);
  const chunks = Math.ceil(groupVecs / chunkVecs);
  const total = batch * groups * chunks;
  const { workgroups } = grid1d(total, 1);

  const reduction = teamReduction(rt);
  const stats = rt.empty([total, 4], 'f32');
  const statsCode = () => specialize(laneHelpers(width) + reduction.source + kernelSource('norm_group_stats.wgsl'), {
    dtype: x.dtype,
    enables: reduction.enables,
    aliases: laneAliases(x.dtype, width),
    consts: { ...reduction.consts, W: width, WG: ROW_WORKGROUP, TEAM: ROW_WORKGROUP },
  });
  rt.dispatch({
    pipeline: rt.pipeline(`group_norm_stats_${x.dtype}_w${width}_${reduction.variant}`, statsCode),
    uniforms: new Uniforms().u32(groupVecs, chunkVecs, chunks, total),
    bindings: [x, stats],
    workgroups,
  });

  const applyCode = () => specialize(kernelSource('norm_group_apply.wgsl'), {
    dtype: x.dtype,
    enables: gamma.dtype === 'f16' ? ['f16'] : [],
    aliases: { ...laneAliases(x.dtype, width), TP: gamma.dtype },
    consts: { WG: ROW_WORKGROUP, SILU: silu },
  });
  rt.dispatch({
    pipeline: rt.pipeline(`group_norm_apply_${x.dtype}_${gamma.dtype}_w${width}${silu ? '_silu' : ''}`, applyCode),
    uniforms: new Uniforms().u32(groupVecs, chunkVecs, chunks, total, spatial / width, channelsPerGroup, groups).f32(eps),
    bindings: [x, gamma, beta, stats, result],
    workgroups,
  });
  // the pool hands the buffer out again only to later dispatches, which run after this one
  stats.dispose();
  return result;
}

export interface LayerNormOptions {
  eps: number;
  out?: Tensor;
}

/**
 * x: [..., C], gamma/beta: [C] → same shape; normalises over the last dim (biased variance, as
 * PyTorch), shifted by the row's first values so large means keep their precision. One team of
 * invocations per row (a subgroup where subgroups have a fixed size): a statistics sweep, one team
 * reduction, then an output sweep that finds the row in cache.
 */
export function layerNorm(rt: Runtime, x: Tensor, gamma: Tensor, beta: Tensor, options: LayerNormOptions): Tensor {
  const cols = x.shape[x.rank - 1];
  if (cols === undefined || cols === 0) throw new Error(`layerNorm: x ${formatShape(x.shape)} needs a non-empty last dim`);
  checkAffine('layerNorm', x, gamma, beta, cols);
  const result = resultTensor(rt, 'layerNorm', x.shape, x.dtype, options.out, [x, gamma, beta]);
  const rows = x.size / cols;
  if (rows === 0) return result;

  const width = laneWidth(cols);
  const rowVecs = cols / width;
  const reduction = teamReduction(rt);
  const team = reduction.rowTeam;
  const code = () => specialize(laneHelpers(width) + reduction.source + kernelSource('norm_layer.wgsl'), {
    dtype: x.dtype,
    enables: [...reduction.enables, ...(gamma.dtype === 'f16' ? ['f16'] : [])],
    aliases: { ...laneAliases(x.dtype, width), ...laneAliases(gamma.dtype, width, 'VP') },
    consts: { ...reduction.consts, W: width, WG: ROW_WORKGROUP, TEAM: team },
  });
  const { workgroups, rowWidth } = grid1d(rows, ROW_WORKGROUP / team);
  rt.dispatch({
    pipeline: rt.pipeline(`layer_norm_${x.dtype}_${gamma.dtype}_w${width}_t${team}_${reduction.variant}`, code),
    uniforms: new Uniforms().u32(rows, rowVecs, rowWidth).f32(options.eps),
    bindings: [x, gamma, beta, result],
    workgroups,
  });
  return result;
}

function checkAffine(kernel: string, x: Tensor, gamma: Tensor, beta: Tensor, channels: number): void {
  if (gamma.size !== channels || beta.size !== channels) {
    throw new Error(
      `${kernel}: gamma ${formatShape(gamma.shape)} and beta ${formatShape(beta.shape)} must have ${channels} values for x ${formatShape(x.shape)}`,
    );
  }
  if (gamma.dtype !== beta.dtype) throw new Error(`${kernel}: gamma is ${gamma.dtype} but beta is ${beta.dtype}`);
}

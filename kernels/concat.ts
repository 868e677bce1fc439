import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape } from '../runtime/dtype.js';
import { grid1d } from './grid.js';
import { laneAliases, laneWidth } from './lanes.js';
import { resultTensor } from './result.js';

/** channel concat of NCHW tensors (U-Net skip connections): [B, Ca, H, W] + [B, Cb, H, W] → [B, Ca+Cb, H, W] */
export function concatChannels(rt: Runtime, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const sameRest = a.rank === b.rank && a.rank >= 2 && a.shape.every((d, i) => i === 1 || d === b.shape[i]);
  if (!sameRest) throw new Error(`concatChannels: ${formatShape(a.shape)} and ${formatShape(b.shape)} differ outside dim 1`);
  if (a.dtype !== b.dtype) throw new Error(`concatChannels: dtypes differ (${a.dtype}, ${b.dtype})`);
  const shape = a.shape.map((d, i) => (i === 1 ? d + b.shape[1]! : d));
  const result = resultTensor(rt, 'concatChannels', shape, a.dtype, out, [a, b]);
  const batch = a.shape[0]!;
  if (result.size === 0) return result;
  const aBlock = a.size / batch;
  const bBlock = b.size / batch;
  if (aBlock === 0 || bBlock === 0) {
    rt.copy(aBlock === 0 ? b : a, result); // an empty binding is invalid
    return result;
  }
  const width = laneWidth(aBlock, bBlock);
  const n = result.size / width;
  const { workgroups, rowWidth } = grid1d(n, 256);
  const code = () => specialize(kernelSource('concat.wgsl'), { dtype: a.dtype, aliases: { VS: laneAliases(a.dtype, width).VS! } });
  rt.dispatch({
    pipeline: rt.pipeline(`concat_channels_${a.dtype}_w${width}`, code),
    uniforms: new Uniforms().u32(n, aBlock / width, bBlock / width, rowWidth),
    bindings: [a, b, result],
    workgroups,
  });
  return result;
}

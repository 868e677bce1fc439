import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';

/** Where a convolution's taps read: a k x k kernel at a stride over a padded H x W image. */
export interface ConvWindow {
  readonly cin: number;
  readonly h: number;
  readonly w: number;
  readonly ho: number;
  readonly wo: number;
  readonly kernel: 1 | 3;
  readonly stride: 1 | 2;
  readonly padTop: number;
  readonly padLeft: number;
}

/** Output pixels one invocation writes: 4 (one wide store) wherever Ho·Wo allows, else 1. */
export type Im2colPacket = 1 | 4;

/**
 * x [B, Cin, H, W] → its im2col matrices [B, Cin·k·k, Ho·Wo], so a convolution becomes a plain
 * batched GEMM weight [Cout, Cin·k·k] · cols[b]. The caller has checked x against the window.
 * `packet` forces the pixels per invocation (benchmarks, tests).
 */
export function im2col(rt: Runtime, x: Tensor, window: ConvWindow, packet?: Im2colPacket): Tensor {
  const { cin, h, w, ho, wo, kernel, stride, padTop, padLeft } = window;
  const images = x.shape[0]!;
  const k = cin * kernel * kernel;
  const pixels = ho * wo;
  const per = packet ?? (pixels % 4 === 0 ? 4 : 1);
  if (pixels % per) throw new Error(`im2col: ${per} pixels per store need Ho·Wo (${pixels}) to be a multiple of ${per}`);
  const out = rt.empty([images, k, pixels], x.dtype);
  const code = () => specialize(kernelSource('im2col.wgsl') + kernelSource(`im2col-store${per}.wgsl`), { dtype: x.dtype, consts: { KH: kernel, KW: kernel, PER: per } });
  rt.dispatch({
    pipeline: rt.pipeline(`im2col${kernel} x${per} ${x.dtype}`, code),
    uniforms: new Uniforms().u32(k, pixels, wo, h, w, stride, padTop, padLeft, cin),
    bindings: [x, out],
    workgroups: [Math.ceil(pixels / (256 * per)), k, images],
  });
  return out;
}

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { DType } from '../runtime/dtype.js';
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

/**
 * Output pixels one invocation writes: for f16 8 (one 16-byte store) wherever Ho·Wo allows, else
 * 4 (one 8- or 16-byte store) wherever it allows, else 1. The bar conv's pass on an H100
 * (December 2026): 0.035–0.038 ms with 8, 0.041–0.045 with 4, 0.085–0.091 with 1.
 */
export type Im2colPacket = 1 | 4 | 8;

function packetFor(dtype: DType, pixels: number): Im2colPacket {
  if (dtype === 'f16' && pixels % 8 === 0) return 8;
  return pixels % 4 === 0 ? 4 : 1;
}

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
  const per = packet ?? packetFor(x.dtype, pixels);
  if (pixels % per) throw new Error(`im2col: ${per} pixels per store need Ho·Wo (${pixels}) to be a multiple of ${per}`);
  if (per === 8 && x.dtype !== 'f16') throw new Error(`im2col: 8 pixels per store pack f16 pairs, not ${x.dtype}`);
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

// The conv that produces the latent distribution's [mean | logvar] channels (quant_conv, or the
// encoder's conv_out without one), split once into two convs so each half comes out contiguous.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { conv2d } from '../kernels/conv2d.js';
import { crop2d } from '../kernels/crop.js';
import type { ConvSpec } from './architecture.js';

export class MomentsHead {
  private constructor(
    private readonly rt: Runtime,
    private readonly meanConv: readonly [Tensor, Tensor],
    private readonly logvarConv: readonly [Tensor, Tensor],
    private readonly padding: number,
  ) {}

  /** weight [2L, Cin, k, k] and bias [2L] → convs for output channels [0, L) and [L, 2L). */
  static split(rt: Runtime, [weight, bias]: readonly [Tensor, Tensor], spec: ConvSpec): MomentsHead {
    const half = spec.outChannels / 2;
    if (!Number.isInteger(half)) throw new Error(`${spec.name}: ${spec.outChannels} output channels do not split into mean and logvar`);
    const rowLength = weight.size / spec.outChannels;
    // Row windows of the weight seen as a [2L, Cin·k·k] matrix and of the bias as [1, 2L].
    const part = (first: number): [Tensor, Tensor] => [
      rt.keep(crop2d(rt, weight.reshape([spec.outChannels, rowLength]), { top: first, left: 0, height: half, width: rowLength }, rt.empty([half, spec.inChannels, spec.kernel, spec.kernel], weight.dtype))),
      rt.keep(crop2d(rt, bias.reshape([1, spec.outChannels]), { top: 0, left: first, height: 1, width: half }, rt.empty([half], bias.dtype))),
    ];
    return new MomentsHead(rt, part(0), part(half), (spec.kernel - 1) / 2);
  }

  mean(h: Tensor): Tensor {
    return conv2d(this.rt, h, this.meanConv[0], { padding: this.padding, bias: this.meanConv[1] });
  }

  logvar(h: Tensor): Tensor {
    return conv2d(this.rt, h, this.logvarConv[0], { padding: this.padding, bias: this.logvarConv[1] });
  }

  dispose(): void {
    for (const t of [...this.meanConv, ...this.logvarConv]) t.dispose();
  }
}

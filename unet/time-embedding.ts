// Timesteps (sinusoidal features) → TimestepEmbedding (linear → SiLU → linear).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { FloatDType } from '../runtime/dtype.js';
import { linear } from '../kernels/matmul.js';
import { timestepEmbedding } from '../kernels/timestep.js';
import type { UNetArchitecture } from './architecture.js';
import type { UNetWeights } from './weights.js';

export class TimeEmbedding {
  private readonly linear1: readonly [Tensor, Tensor];
  private readonly linear2: readonly [Tensor, Tensor];

  constructor(
    private readonly rt: Runtime,
    private readonly arch: UNetArchitecture,
    w: UNetWeights,
    private readonly dtype: FloatDType,
  ) {
    this.linear1 = [w.get('time_embedding.linear_1.weight'), w.get('time_embedding.linear_1.bias')];
    this.linear2 = [w.get('time_embedding.linear_2.weight'), w.get('time_embedding.linear_2.bias')];
  }

  /** timesteps: [B] f32 → emb [B, timeEmbedDim] in the model dtype. */
  forward(timesteps: Tensor): Tensor {
    const rt = this.rt;
    return rt.tidy(() => {
      // diffusers computes the sinusoid in f32 and casts it to the model dtype
      const features = timestepEmbedding(
        rt,
        timesteps,
        { dim: this.arch.timeChannels, flipSinToCos: this.arch.flipSinToCos, downscaleFreqShift: this.arch.freqShift },
        this.dtype,
      );
      const hidden = linear(rt, features, this.linear1[0], { bias: this.linear1[1], activation: 'silu' });
      return linear(rt, hidden, this.linear2[0], { bias: this.linear2[1] });
    });
  }
}

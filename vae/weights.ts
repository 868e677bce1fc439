import type { Tensor } from '../runtime/tensor.js';
import type { FloatDType } from '../runtime/dtype.js';
import { ModelWeights } from '../runtime/model-weights.js';

/** The VAE's loaded parameters by diffusers name. */
export class VaeWeights extends ModelWeights {
  constructor(map: ReadonlyMap<string, Tensor>, dtype: FloatDType) {
    super('VAE', map, dtype);
  }
}

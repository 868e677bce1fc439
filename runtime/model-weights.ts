// Checked access to a model's loaded parameters by diffusers name (the U-Net's and the VAE's).

import type { Tensor } from './tensor.js';
import { formatShape, type FloatDType } from './dtype.js';

export class ModelWeights {
  constructor(
    /** Named in errors, e.g. 'UNet'. */
    readonly model: string,
    private readonly map: ReadonlyMap<string, Tensor>,
    readonly dtype: FloatDType,
  ) {}

  /**
   * Throws one error listing every missing, disposed, misshapen or wrongly typed parameter; names
   * outside `expected` are ignored (a map may hold the whole pipeline).
   */
  validate(expected: ReadonlyMap<string, readonly number[]>): void {
    const problems: string[] = [];
    for (const [name, shape] of expected) {
      const t = this.map.get(name);
      if (!t) problems.push(`missing ${name} ${formatShape(shape)}`);
      else if (t.isDisposed) problems.push(`${name} was disposed`);
      else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        problems.push(`${name} is ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
      } else if (t.dtype !== this.dtype) problems.push(`${name} is ${t.dtype}, the ${this.model} runs in ${this.dtype}`);
    }
    if (problems.length > 0) {
      const shown = problems.slice(0, 20).join('\n  ');
      const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : '';
      throw new Error(`${this.model} weights do not fit the config (${problems.length} problems):\n  ${shown}${more}`);
    }
  }

  get(name: string): Tensor {
    const t = this.map.get(name);
    if (!t) throw new Error(`${this.model} weights: missing ${name}`);
    return t;
  }

  /** weight and bias of a layer. */
  pair(name: string): readonly [Tensor, Tensor] {
    return [this.get(`${name}.weight`), this.get(`${name}.bias`)];
  }

  /** A 1×1 conv weight [O, I, 1, 1] (or a linear weight [O, I]) as the [O, I] matrix it is. */
  matrix(name: string): Tensor {
    const t = this.get(name);
    return t.rank === 2 ? t : t.reshape([t.shape[0]!, t.size / t.shape[0]!]);
  }
}

// Bookkeeping shared by the schedulers: tensors kept across steps, and the step-order check.

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { axpby } from '../kernels/scale.js';

/**
 * A private copy that outlives the caller's tidy scopes: history must survive the caller freeing
 * (or reusing) the U-Net output and the latents it handed in.
 */
export function keptCopy(rt: Runtime, t: Tensor): Tensor {
  const copy = rt.keep(rt.empty(t.shape, t.dtype));
  rt.copy(t, copy);
  return copy;
}

/** Σ coef·tensor over one to three terms, as one axpby dispatch. */
export function combine(rt: Runtime, terms: readonly (readonly [number, Tensor])[]): Tensor {
  const [first, second, third] = terms;
  if (!first || terms.length > 3) throw new Error(`scheduler combine: 1 to 3 terms, got ${terms.length}`);
  return axpby(rt, first[0], first[1], second?.[0], second?.[1], third?.[0], third?.[1]);
}

/** Enforces that evaluations are stepped once each, in order. */
export class StepOrder {
  private next = 0;

  constructor(
    private readonly who: string,
    private readonly evaluations: number,
  ) {}

  /** Checks that i is the next evaluation, and advances. */
  take(i: number): void {
    if (i !== this.next) {
      throw new Error(`${this.who}: step ${i} out of order (expected ${this.next}; steps run once each, in order)`);
    }
    if (i >= this.evaluations) throw new Error(`${this.who}: step ${i} past the last evaluation ${this.evaluations - 1}`);
    this.next++;
  }

  check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.evaluations) {
      throw new Error(`${this.who}: evaluation index ${i} outside [0, ${this.evaluations - 1}]`);
    }
  }
}

/** Pointwise activations that kernels can fuse into their epilogue. */
export type Activation = 'none' | 'silu' | 'gelu' | 'gelu_tanh' | 'quick_gelu';

/** The ACT constant the WGSL epilogues switch on (see activate() in gemm-io.wgsl). */
export const ACTIVATION_CODE: Readonly<Record<Activation, number>> = {
  none: 0,
  silu: 1,
  gelu: 2,
  gelu_tanh: 3,
  quick_gelu: 4,
};

export function isActivation(value: string): value is Activation {
  return Object.prototype.hasOwnProperty.call(ACTIVATION_CODE, value);
}

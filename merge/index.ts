// Token-merging plug-ins for the U-Net's attention hooks, created by method name. Each method adds
// one entry to MergeMethodOptions and one to FACTORIES.
//
// No method reads the GPU inside the denoising loop. Fixed-ratio methods ('tome', 'importance',
// 'toma') know every token count on the host, so their shapes are exact. CA-ToMe's r ('catome')
// depends on the data and stays on the GPU (merge/catome.ts): its merged tensors keep a fixed
// capacity ([B, N, C], the first N − r rows real), the merge kernels read r from a u32 buffer, the
// token map points below N − r, and the plan's SublayerWrap.validTokens (N − r, on the GPU) makes
// self-attention mask keys and skip query rows past it. The GEMMs (to_q/k/v/out, and ff when
// merged) keep their host-sized N rows: row-wise, so rows past the count cost time, not
// correctness; making them shrink too would need indirect dispatch over row tiles in kernels/gemm*.

import type { Runtime } from '../runtime/runtime.js';
import type { AttentionPlugin } from '../unet/hooks.js';
import { ToMePlugin, type ToMeOptions } from './tome.js';
import { CaToMePlugin, type CaToMeOptions } from './catome.js';
import { createTomaPlugin, type TomaOptions } from './toma.js';
import { ImportancePlugin, type ImportanceOptions } from './importance.js';

export * from './bipartite.js';
export * from './partition.js';
export * from './schedules.js';
export { ToMePlugin, type ToMeOptions } from './tome.js';
export { CaToMePlugin, type CaToMeOptions, type CaToMeBlockState } from './catome.js';
export { createTomaPlugin, TOMA_DEFAULTS, type TomaOptions, type TomaBlockState } from './toma.js';
export { ImportancePlugin, IMPORTANCE_DEFAULTS, type ImportanceOptions } from './importance.js';
export type { TomesdBlockOptions } from './tomesd-blocks.js';

/** Options of each method, by name. */
export interface MergeMethodOptions {
  none: Record<string, never>;
  tome: ToMeOptions;
  catome: CaToMeOptions;
  toma: TomaOptions;
  importance: ImportanceOptions;
}

export type MergeMethod = keyof MergeMethodOptions;

/** { method, ...that method's options }. */
export type MergeOptions = { [M in MergeMethod]: { readonly method: M } & MergeMethodOptions[M] }[MergeMethod];

/** A plug-in made by createMergePlugin. */
export interface MergePlugin extends AttentionPlugin<unknown> {
  readonly method: MergeMethod;
}

type Factory<M extends MergeMethod> = (rt: Runtime, options: MergeMethodOptions[M]) => MergePlugin;

const FACTORIES: { readonly [M in MergeMethod]: Factory<M> } = {
  none: () => ({ method: 'none' }),
  tome: (rt, options) => new ToMePlugin(rt, options),
  catome: (rt, options) => new CaToMePlugin(rt, options),
  toma: (rt, options) => ({ method: 'toma', ...createTomaPlugin(rt, options) }),
  importance: (rt, options) => new ImportancePlugin(rt, options),
};

export const MERGE_METHODS = Object.keys(FACTORIES) as MergeMethod[];

/** The plug-in for options.method; pass it to `new AttentionHooks(plugin)` per generation. */
export function createMergePlugin(rt: Runtime, options: MergeOptions): MergePlugin {
  const factory = FACTORIES[options.method] as Factory<MergeMethod> | undefined;
  if (!factory) throw new Error(`unknown token-merging method '${String(options.method)}' (one of ${MERGE_METHODS.join(', ')})`);
  const { method: _method, ...rest } = options;
  return factory(rt, rest as MergeMethodOptions[MergeMethod]);
}

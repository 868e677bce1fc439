// Token-merging plug-ins for the U-Net's attention hooks, created by method name. Each method adds
// one entry to MergeMethodOptions and one to FACTORIES.
//
// Sync points: 'tome' and 'importance' never read the GPU. 'catome' has one: resolveMergeCounts(),
// to be awaited after every U-Net evaluation (see merge/catome.ts for why its r arrives one evaluation late).
// Dropping it needs the merged token count to live on the GPU only: merged tensors of a fixed
// capacity ([B, N, C]) with the count in a buffer; the merge kernels taking r from that buffer
// (today a uniform) and their row count by indirect dispatch; GEMMs (to_q/k/v/out, and ff when
// merged) whose row count comes from the buffer (indirect dispatch over row tiles); attention whose
// query and key counts come from it (keys past the count masked out of the softmax, rows past it
// skipped); and the unmerge reading the count to know where destinations start.

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
  /**
   * The method's host sync, if it has one: await after each U-Net evaluation. Methods without a
   * sync point leave it undefined.
   */
  resolveMergeCounts?(): Promise<void>;
  /** GPU→CPU waits made so far (0 or undefined for methods that never read back). */
  readonly syncPoints?: number;
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

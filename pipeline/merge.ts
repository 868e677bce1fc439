// The pipeline's `merge` option: token merging as an AttentionPlugin on the U-Net's attention
// blocks (unet/hooks.ts), made fresh for every generation and released at its end. Built-in methods
// come from merge/'s createMergePlugin; a function can supply any other plug-in.

import type { Runtime } from '../runtime/runtime.js';
import type { AttentionPlugin } from '../unet/hooks.js';
import { createMergePlugin, MERGE_METHODS, type MergeMethod, type MergeOptions } from '../merge/index.js';

export { MERGE_METHODS, type MergeMethod, type MergeOptions };

/**
 * What `merge` accepts: { method, ...that method's options } for a built-in method (see
 * merge/index.ts), or a function that makes a custom plug-in (called once per generation).
 */
export type MergeOption = MergeOptions | ((rt: Runtime) => AttentionPlugin<unknown>);

/** One generation's plug-in. No method needs a host sync: CA-ToMe keeps its counts on the GPU. */
export interface MergeSession {
  readonly plugin: AttentionPlugin<unknown>;
}

/** The plug-in for one generation, or null when nothing is merged (no option, or method 'none'). */
export function mergeSession(rt: Runtime, option: MergeOption | undefined): MergeSession | null {
  if (option === undefined) return null;
  if (typeof option !== 'function' && option.method === 'none') return null;
  return { plugin: typeof option === 'function' ? option(rt) : createMergePlugin(rt, option) };
}

/** The settings as "Key: value" pairs for an image's parameters text; empty when nothing merges. */
export function describeMerge(option: MergeOption | undefined): [string, string][] {
  if (option === undefined) return [];
  if (typeof option === 'function') return [['Token merging', 'custom']];
  if (option.method === 'none') return [];
  const { method, ...rest } = option;
  const out: [string, string][] = [['Token merging', method]];
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined) continue;
    out.push([`Token merging ${k}`, Array.isArray(v) ? v.join(' ') : String(v)]);
  }
  return out;
}

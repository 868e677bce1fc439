// The pipeline's `merge` option: token merging as an AttentionPlugin on the U-Net's attention
// blocks (unet/hooks.ts), made fresh for every generation and released at its end.
//
// Methods come from merge/'s createMergePlugin factory. Until it lands only 'none' exists; adding
// the factory's methods is the one marked line below.

import type { AttentionPlugin } from '../unet/hooks.js';

/** Methods the pipeline knows, in the order --help lists them. */
export const MERGE_METHODS = ['none'] as const;

export type MergeMethod = (typeof MERGE_METHODS)[number];

/** A merge method and its settings (which ones apply depends on the method). */
export interface MergeSettings {
  readonly method: MergeMethod;
  /** Fraction of tokens merged away (ToMe-style methods). */
  readonly ratio?: number;
  /** Similarity threshold (adaptive methods, CA-ToMe). */
  readonly threshold?: number;
  /** When merging applies across the steps, as the method spells it. */
  readonly schedule?: string;
  /** Merge only in blocks whose downsample factor is at most this (tomesd's max_downsample). */
  readonly maxDownsample?: number;
}

/**
 * What `merge` accepts: settings for a built-in method, or a function that makes a custom plug-in
 * (called once per generation; the pipeline disposes the hook session it wraps).
 */
export type MergeOption = MergeSettings | (() => AttentionPlugin<unknown>);

type MergeFactory = (settings: MergeSettings) => AttentionPlugin<unknown> | null;

// Replace with merge/index.ts's createMergePlugin (and widen MERGE_METHODS) once it exists.
const createPlugin: MergeFactory = (settings) => {
  if (settings.method === 'none') return null;
  throw new Error(`unknown merge method ${JSON.stringify(settings.method)} (known: ${MERGE_METHODS.join(', ')})`);
};

/** The plug-in for one generation, or null when nothing is merged. */
export function mergePlugin(option: MergeOption | undefined): AttentionPlugin<unknown> | null {
  if (option === undefined) return null;
  if (typeof option === 'function') return option();
  if (!(MERGE_METHODS as readonly string[]).includes(option.method)) {
    throw new Error(`unknown merge method ${JSON.stringify(option.method)} (known: ${MERGE_METHODS.join(', ')})`);
  }
  return createPlugin(option);
}

/** The settings as "key: value" pairs for an image's parameters text; empty when nothing merges. */
export function describeMerge(option: MergeOption | undefined): [string, string][] {
  if (option === undefined) return [];
  if (typeof option === 'function') return [['Token merging', 'custom']];
  if (option.method === 'none') return [];
  const out: [string, string][] = [['Token merging', option.method]];
  if (option.ratio !== undefined) out.push(['Token merging ratio', String(option.ratio)]);
  if (option.threshold !== undefined) out.push(['Token merging threshold', String(option.threshold)]);
  if (option.schedule !== undefined) out.push(['Token merging schedule', option.schedule]);
  if (option.maxDownsample !== undefined) out.push(['Token merging max downsample', String(option.maxDownsample)]);
  return out;
}

// What goes into a generated PNG besides pixels: the prompt and settings as AUTOMATIC1111 writes
// them in its "parameters" text chunk (which most SD tools read back), and the file names of a batch.

import { extname } from 'node:path';
import type { SchedulerKind } from '../scheduler/types.js';
import type { ResolvedSettings } from './stable-diffusion.js';

/** How A1111 names the samplers that match ours. */
export const SAMPLER_NAMES: Readonly<Record<SchedulerKind, string>> = {
  plms: 'PLMS',
  ddim: 'DDIM',
  euler: 'Euler',
  'dpmpp-2m': 'DPM++ 2M',
};

export interface ParametersExtras {
  /** The model's short name. */
  readonly model?: string;
  /** Position of this image in its batch (written when the batch has more than one). */
  readonly batchIndex?: number;
  /** Further "Key: value" pairs (token merging settings, version). */
  readonly extra?: readonly (readonly [string, string])[];
}

/**
 * A1111's parameters text: the prompt, "Negative prompt: …" when there is one, then one line of
 * "Key: value" pairs (Steps, Sampler, CFG scale, Seed, Size, Model, …).
 */
export function parametersText(s: ResolvedSettings, extras: ParametersExtras = {}): string {
  const pairs: [string, string][] = [
    ['Steps', String(s.steps)],
    ['Sampler', SAMPLER_NAMES[s.scheduler]],
    ['CFG scale', String(s.guidanceScale)],
    ['Seed', String(s.seed)],
    ['Size', `${s.width}x${s.height}`],
  ];
  if (extras.model) pairs.push(['Model', extras.model]);
  if (s.clipSkip !== 1) pairs.push(['Clip skip', String(s.clipSkip)]);
  if (s.n > 1) {
    pairs.push(['Batch size', String(s.n)]);
    if (extras.batchIndex !== undefined) pairs.push(['Batch pos', String(extras.batchIndex)]);
  }
  for (const [k, v] of extras.extra ?? []) pairs.push([k, v]);
  const lines = [s.prompt];
  if (s.negativePrompt !== '') lines.push(`Negative prompt: ${s.negativePrompt}`);
  lines.push(pairs.map(([k, v]) => `${k}: ${quoteValue(v)}`).join(', '));
  return lines.join('\n');
}

/** A1111 quotes values holding its separators. */
function quoteValue(v: string): string {
  return /[,:\n"]/.test(v) ? JSON.stringify(v) : v;
}

/**
 * The file names for a batch written to `pattern`: {i} (1-based position) and {seed} are
 * replaced; without {i}, a batch of several gets "-1", "-2", … before the extension.
 */
export function outputPaths(pattern: string, count: number, seed: number): string[] {
  const numbered = pattern.includes('{i}');
  return Array.from({ length: count }, (_, k) => {
    let path = pattern.replaceAll('{i}', String(k + 1)).replaceAll('{seed}', String(seed));
    if (!numbered && count > 1) {
      const ext = extname(path);
      path = `${path.slice(0, path.length - ext.length)}-${k + 1}${ext}`;
    }
    return path;
  });
}

// The shapes shared by the conformance runner and its parts: one part per model component, each
// comparing what it computes with the golden tensors of a fixture directory.

import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { ModelFiles } from '../model-files.js';
import type { GoldenSet } from './golden.js';

/** How a check measures its error against its bar. */
export type ErrorMetric = 'max rel error' | 'max abs diff' | 'differing ids';

/** One comparison: passed when error ≤ bar (NaN never passes). */
export interface CheckResult {
  readonly type: 'check';
  readonly part: string;
  readonly name: string;
  readonly metric: ErrorMetric;
  readonly error: number;
  readonly bar: number;
  readonly passed: boolean;
  /** Why it failed when no error could be measured (an exception, a shape mismatch, ...), or a remark. */
  readonly note?: string;
}

/** Something not compared: `count` golden tensors nothing computed, or a check that could not run. */
export interface SkipResult {
  readonly type: 'skip';
  readonly part: string;
  readonly name: string;
  readonly count: number;
  readonly reason: string;
}

export type ConformanceRecord = CheckResult | SkipResult;

export interface CheckInput {
  readonly name: string;
  readonly metric: ErrorMetric;
  readonly error: number;
  readonly bar: number;
  readonly note?: string;
}

/** The relative bars of the model parts. */
export const MODEL_TOLERANCE: Readonly<Record<FloatDType, number>> = { f32: 1e-4, f16: 1e-2 };
/**
 * Scheduler bars: f32 chains match diffusers to 1e-5; f16 latents and history only to f16 storage
 * rounding accumulated over the chain.
 */
export const SCHEDULER_TOLERANCE: Readonly<Record<FloatDType, number>> = { f32: 1e-5, f16: 1e-2 };

/** What a part gets to work with. Model files and golden files are opened once and closed by the runner. */
export interface PartContext {
  readonly rt: Runtime;
  readonly dtype: FloatDType;
  readonly fixtureDir: string;
  readonly golden: GoldenSet;
  /** `<fixture>/model`, the diffusers folder. */
  folder(): Promise<ModelFiles>;
  /** `<fixture>/single-file.safetensors` with configs from the folder; null when the fixture has none. */
  singleFile(): Promise<ModelFiles | null>;
  check(c: CheckInput): void;
  /** A check that failed before it could measure anything. */
  fail(name: string, note: string): void;
  skip(name: string, reason: string, count?: number): void;
}

export interface ConformancePart {
  /** The name --only takes. */
  readonly name: string;
  readonly description: string;
  /** Golden files (name without .safetensors) whose tensors this part compares. */
  claims(goldenFile: string): boolean;
  run(ctx: PartContext): Promise<void>;
}

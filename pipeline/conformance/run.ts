// Runs the conformance parts on a fixture directory (<dir>/model, <dir>/single-file.safetensors,
// <dir>/golden) and tallies the results; golden tensors nothing read are reported as skipped.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { openModelFiles, type ModelFiles } from '../model-files.js';
import { FixtureError, GoldenSet } from './golden.js';
import { CONFORMANCE_PARTS } from './registry.js';
import type { CheckResult, ConformancePart, ConformanceRecord, PartContext, SkipResult } from './types.js';

export interface ConformanceOptions {
  readonly fixtureDir: string;
  readonly dtype: FloatDType;
  /** Names of the parts to run (default: all). */
  readonly only?: readonly string[];
  /** Default: CONFORMANCE_PARTS. */
  readonly parts?: readonly ConformancePart[];
  /** Sees each record as it is made (checks as they finish, skips at the end). */
  readonly onRecord?: (record: ConformanceRecord) => void;
  /** Told when each part has finished, with its wall time. */
  readonly onPartDone?: (part: string, seconds: number) => void;
}

export interface ConformanceReport {
  readonly records: readonly ConformanceRecord[];
  readonly passed: number;
  readonly failed: number;
  /** Skipped golden tensors plus checks that could not run. */
  readonly skipped: number;
}

/** `N passed, M failed`, with `, K skipped` when anything was skipped. */
export function summaryLine(r: Pick<ConformanceReport, 'passed' | 'failed' | 'skipped'>): string {
  return `${r.passed} passed, ${r.failed} failed${r.skipped > 0 ? `, ${r.skipped} skipped` : ''}`;
}

export function formatRecord(r: ConformanceRecord): string {
  if (r.type === 'skip') return `skip  ${r.name}: ${r.count > 1 ? `${r.count} ` : ''}${r.reason}`;
  const status = r.passed ? 'ok  ' : 'FAIL';
  const measured = Number.isNaN(r.error) ? 'not measured' : `${r.metric} ${formatNumber(r.error)} ${r.passed ? '≤' : '>'} ${formatNumber(r.bar)}`;
  return `${status}  ${r.name}: ${measured}${r.note ? `  (${r.note})` : ''}`;
}

function formatNumber(x: number): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  return Number.isInteger(x) && Math.abs(x) < 1e6 ? String(x) : x.toExponential(2);
}

/** Resolves a part name as --only gives it ('text_encoder' and 'text-encoder' alike). */
export function partByName(name: string, parts: readonly ConformancePart[] = CONFORMANCE_PARTS): ConformancePart | undefined {
  const key = name.trim().toLowerCase().replace(/_/g, '-');
  return parts.find((p) => p.name === key);
}

/**
 * Checks what can be checked before any GPU work: the part names, the fixture's layout. Throws
 * FixtureError (bad usage); returns the parts to run.
 */
export function checkConformanceOptions(options: Pick<ConformanceOptions, 'fixtureDir' | 'only' | 'parts'>): readonly ConformancePart[] {
  const all = options.parts ?? CONFORMANCE_PARTS;
  const selected = options.only && options.only.length > 0
    ? options.only.map((n) => {
        const p = partByName(n, all);
        if (!p) throw new FixtureError(`unknown part ${JSON.stringify(n)} (parts: ${all.map((x) => x.name).join(', ')})`);
        return p;
      })
    : all;
  const fixture = options.fixtureDir;
  if (!existsSync(fixture)) throw new FixtureError(`fixture directory ${fixture} does not exist`);
  if (!existsSync(join(fixture, 'model'))) throw new FixtureError(`${fixture} has no model/ folder (the diffusers-layout model the goldens were made with)`);
  GoldenSet.open(join(fixture, 'golden'));
  return selected;
}

export async function runConformance(rt: Runtime, options: ConformanceOptions): Promise<ConformanceReport> {
  const all = options.parts ?? CONFORMANCE_PARTS;
  const selected = checkConformanceOptions(options);
  if (options.dtype === 'f16' && !rt.features.f16) {
    throw new FixtureError('--dtype f16: this device has no shader-f16, so the f16 path cannot run here; use --dtype f32');
  }
  const fixture = options.fixtureDir;
  const modelDir = join(fixture, 'model');
  const singlePath = join(fixture, 'single-file.safetensors');
  const golden = GoldenSet.open(join(fixture, 'golden'));

  const records: ConformanceRecord[] = [];
  const record = (r: ConformanceRecord): void => {
    records.push(r);
    options.onRecord?.(r);
  };
  const opened: { folder?: Promise<ModelFiles>; single?: Promise<ModelFiles | null> } = {};
  try {
    for (const part of selected) {
      const ctx: PartContext = {
        rt,
        dtype: options.dtype,
        fixtureDir: fixture,
        golden,
        folder: () => (opened.folder ??= openModelFiles(modelDir, { dtype: options.dtype })),
        singleFile: () =>
          (opened.single ??= existsSync(singlePath) ? openModelFiles(singlePath, { dtype: options.dtype, configFrom: modelDir }) : Promise.resolve(null)),
        check: (c) => record({ type: 'check', part: part.name, ...c, passed: c.error <= c.bar }),
        fail: (name, note) => record({ type: 'check', part: part.name, name, metric: 'max rel error', error: NaN, bar: 0, passed: false, note }),
        skip: (name, reason, count = 1) => record({ type: 'skip', part: part.name, name, reason, count }),
      };
      const started = performance.now();
      try {
        await part.run(ctx);
      } catch (e) {
        ctx.fail(part.name, `stopped: ${(e as Error).message}`);
      }
      // a part's leftovers must not reach the next one (or hide its errors)
      await rt.sync().catch((e: Error) => ctx.fail(part.name, `GPU error: ${e.message}`));
      options.onPartDone?.(part.name, (performance.now() - started) / 1000);
    }
    for (const [file, tensors] of await golden.unused()) record(unusedSkip(file, tensors, all, selected));
  } finally {
    await Promise.all([opened.folder, opened.single].map(async (f) => (await f?.catch(() => null))?.close()));
    await golden.close();
  }
  const checks = records.filter((r): r is CheckResult => r.type === 'check');
  const skips = records.filter((r): r is SkipResult => r.type === 'skip');
  return {
    records,
    passed: checks.filter((c) => c.passed).length,
    failed: checks.filter((c) => !c.passed).length,
    skipped: skips.reduce((n, s) => n + s.count, 0),
  };
}

function unusedSkip(file: string, tensors: readonly string[], all: readonly ConformancePart[], selected: readonly ConformancePart[]): SkipResult {
  const owner = all.find((p) => p.claims(file));
  const reason = !owner
    ? `no conformance part compares ${file} yet`
    : !selected.includes(owner)
      ? `part ${owner.name} not selected (--only)`
      : `${owner.name} does not compute ${tensors.length === 1 ? 'it' : 'them'}`;
  const shown = tensors.slice(0, 4).join(', ') + (tensors.length > 4 ? ', …' : '');
  return { type: 'skip', part: owner?.name ?? file, name: `golden/${file}.safetensors`, count: tensors.length, reason: `golden tensors (${shown}): ${reason}` };
}

// Compares every golden tensor of a fixture directory that the runtime can compute: tokenizer,
// text encoder, U-Net, VAE, schedulers, and the single-file checkpoint against the folder.
import { resolve } from 'node:path';
import { Runtime } from '../runtime/runtime.js';
import { describeGpu } from '../runtime/gpu.js';
import { FixtureError } from '../pipeline/conformance/golden.js';
import { CONFORMANCE_PARTS } from '../pipeline/conformance/registry.js';
import { checkConformanceOptions, formatRecord, runConformance, summaryLine } from '../pipeline/conformance/run.js';
import { Cli, runScript, UsageError } from './cli.js';

const cli = new Cli({
  name: 'conformance',
  usage: 'node scripts/conformance.js <fixture-dir> [--dtype f32|f16] [--only part,part] [--json]',
  description:
    'Loads <fixture-dir>/model (diffusers layout) and <fixture-dir>/single-file.safetensors, compares each golden\n' +
    'tensor of <fixture-dir>/golden (described by golden/index.json) it can compute, prints one line per check\n' +
    'with its error and bar, and ends with "N passed, M failed" (", K skipped" when golden tensors went\n' +
    'uncompared). Exit status: 0 all passed, 1 a check failed, 2 bad usage or a fixture that cannot be read.',
  options: {
    dtype: { type: 'choice', choices: ['f32', 'f16'], default: 'f32', description: 'model dtype' },
    only: { type: 'strings', valueName: 'PARTS', description: `comma-separated parts: ${CONFORMANCE_PARTS.map((p) => p.name).join(', ')}` },
    json: { type: 'boolean', description: 'JSON lines: a header, one object per check or skip, then the summary' },
  },
  positionals: { min: 1, max: 1, name: 'fixture directory' },
  epilogue:
    'Bars: models max rel error 1e-4 (f32) / 1e-2 (f16); schedulers 1e-5 (f16 chains 1e-2); tokenizer ids exact;\n' +
    'single file vs folder exactly equal outputs. Parts:\n' +
    CONFORMANCE_PARTS.map((p) => `  ${p.name.padEnd(13)}${p.description}`).join('\n') +
    '\nExample: node scripts/conformance.js tests/fixtures/tiny-sd --dtype f16 --only unet,vae',
});

await runScript(cli, async ({ values, positionals }) => {
  const only = values.only.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const fixtureDir = resolve(positionals[0]!);
  try {
    checkConformanceOptions({ fixtureDir, only });
  } catch (e) {
    if (e instanceof FixtureError) throw new UsageError(e.message);
    throw e;
  }
  const rt = await Runtime.create();
  if (values.dtype === 'f16' && !rt.features.f16) {
    rt.destroy();
    throw new UsageError(`--dtype f16: this device has no shader-f16 (${describeGpu(rt.gpu)}); use --dtype f32`);
  }
  const started = performance.now();
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  const json = values.json;
  if (json) print(JSON.stringify({ type: 'header', fixture: fixtureDir, dtype: values.dtype, device: describeGpu(rt.gpu) }));
  else print(`# conformance of ${fixtureDir} (${values.dtype}) on ${describeGpu(rt.gpu)}`);
  let recordsOfPart = 0;
  try {
    const report = await runConformance(rt, {
      fixtureDir,
      dtype: values.dtype,
      only: only.length > 0 ? only : undefined,
      onPartDone: (part, seconds) => {
        if (!json && recordsOfPart > 0) print(`# ${part}: ${seconds.toFixed(1)} s`);
        recordsOfPart = 0;
      },
      onRecord: (r) => {
        recordsOfPart++;
        print(json ? JSON.stringify(r, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) : formatRecord(r));
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const line = summaryLine(report);
    if (json) print(JSON.stringify({ type: 'summary', passed: report.passed, failed: report.failed, skipped: report.skipped, seconds, line }));
    else print(`# ${seconds.toFixed(1)} s\n${line}`);
    if (report.failed > 0) process.exitCode = 1;
  } catch (e) {
    if (e instanceof FixtureError) throw new UsageError(e.message);
    throw e;
  } finally {
    rt.destroy();
  }
});

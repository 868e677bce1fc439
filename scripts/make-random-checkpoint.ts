// Writes a diffusers folder with SD 1.5's (or the tiny fixture's) topology and seeded random
// weights: a full-size model to run and benchmark without downloading one.
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { ARCHS, FIXTURE_MODEL_DIR, type Arch } from './random-checkpoint/configs.js';
import { planCheckpoint, type CheckpointPlan } from './random-checkpoint/plan.js';
import { checkDestination, stagingDir, writeRandomCheckpoint, type WriteProgress } from './random-checkpoint/write.js';
import { Cli, runScript, UsageError } from './cli.js';

const cli = new Cli({
  name: 'make-random-checkpoint',
  usage: 'node scripts/make-random-checkpoint.js --arch sd15|tiny --out DIR [--seed N] [--dtype f16|f32] [--tokenizer-from DIR] [--force] [--dry-run]',
  description:
    'Writes a diffusers folder (model_index.json, unet/ vae/ text_encoder/ tokenizer/ scheduler/) with seeded random\n' +
    'weights in PyTorch\'s default initialisation: Linear/Conv weights and biases U(±1/√fan_in), norms weight 1 bias 0,\n' +
    'token embedding N(0, 1), position embedding N(0, 0.01²). Shapes come from the model code, configs from SD 1.5\n' +
    '(runwayml/stable-diffusion-v1-5) or the tiny test fixture. Written into DIR.tmp, renamed to DIR when complete.',
  options: {
    arch: { type: 'choice', choices: ARCHS, description: 'topology: sd15 (1.07 G parameters) or tiny (the test fixture)' },
    out: { type: 'string', valueName: 'DIR', description: 'the folder to create (must not exist or be empty, unless --force)' },
    seed: { type: 'integer', default: 0, min: 0, description: 'random seed' },
    dtype: { type: 'choice', choices: ['f16', 'f32'], default: 'f16', description: 'stored weight type' },
    'tokenizer-from': { type: 'string', valueName: 'DIR', description: `CLIP tokenizer folder to copy (default: the fixture's, ${FIXTURE_MODEL_DIR}/tokenizer)` },
    force: { type: 'boolean', description: 'replace a non-empty --out (and a leftover DIR.tmp)' },
    'dry-run': { type: 'boolean', description: 'print the planned files, parameter counts and sizes; write nothing' },
  },
  epilogue: 'Example: node scripts/make-random-checkpoint.js --arch sd15 --out /tmp/sd15-random   (about 2.1 GB in f16)',
});

const GB = 1e9;
const MB = 1e6;

function size(bytes: number): string {
  return bytes >= GB ? `${(bytes / GB).toFixed(2)} GB` : `${(bytes / MB).toFixed(1)} MB`;
}

function describePlan(plan: CheckpointPlan, seed: number): string {
  const lines = [`${plan.arch} random checkpoint, ${plan.dtype}, seed ${seed} (configs: ${plan.configs.source})`];
  for (const c of plan.components) {
    lines.push(
      `  ${c.weightsFile.padEnd(42)} ${String(c.tensors.length).padStart(4)} tensors ${c.params.toLocaleString('en-US').padStart(13)} parameters ${size(c.bytes).padStart(9)}`,
    );
  }
  lines.push(`  total ${plan.params.toLocaleString('en-US')} parameters, ${size(plan.bytes)} of weights (${plan.bytes.toLocaleString('en-US')} bytes)`);
  return lines.join('\n');
}

await runScript(cli, async ({ values }) => {
  const arch = values.arch as Arch | undefined;
  if (!arch) throw new UsageError('--arch is required (sd15 or tiny)');
  const dryRun = values['dry-run'];
  if (!values.out && !dryRun) throw new UsageError('--out is required (or --dry-run)');
  const plan = planCheckpoint(arch, values.dtype);
  if (dryRun) {
    console.log(describePlan(plan, values.seed));
    return;
  }
  const out = resolve(values.out!);
  const options = {
    out,
    seed: values.seed,
    tokenizerFrom: resolve(values['tokenizer-from'] ?? `${FIXTURE_MODEL_DIR}/tokenizer`),
    force: values.force,
    onProgress: progressPrinter(),
  };
  try {
    checkDestination(options);
  } catch (e) {
    // The default tokenizer is the bundled fixture's, which a bare checkout has not unpacked yet.
    const hint = values['tokenizer-from'] === undefined && !existsSync(options.tokenizerFrom) ? ' (unpack the fixtures with node scripts/unpack-fixtures.js, or pass --tokenizer-from DIR)' : '';
    throw new UsageError((e as Error).message + hint);
  }
  console.log(describePlan(plan, values.seed));
  // an interrupt must not leave DIR.tmp behind
  const staging = stagingDir(out);
  const onSignal = (signal: NodeJS.Signals): void => {
    rmSync(staging, { recursive: true, force: true });
    process.stderr.write(`\nmake-random-checkpoint: ${signal}: removed ${staging}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await writeRandomCheckpoint(plan, options);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const rate = result.bytes / MB / Math.max(result.seconds, 1e-9);
  console.log(`wrote ${result.out}: ${plan.params.toLocaleString('en-US')} parameters, ${size(result.bytes)} in ${result.seconds.toFixed(1)} s (${rate.toFixed(0)} MB/s)`);
});

/** One line per component start and every 10% of the whole, with elapsed time. */
function progressPrinter(): (p: WriteProgress) => void {
  const started = performance.now();
  let lastComponent = '';
  let lastTenth = -1;
  return (p) => {
    const tenth = Math.floor((10 * p.doneBytes) / p.totalBytes);
    if (p.component === lastComponent && tenth === lastTenth) return;
    lastComponent = p.component;
    lastTenth = tenth;
    const seconds = (performance.now() - started) / 1000;
    const percent = ((100 * p.doneBytes) / p.totalBytes).toFixed(0).padStart(3);
    console.log(`${percent}%  ${p.component.padEnd(12)} ${size(p.componentBytes).padStart(9)} / ${size(p.componentTotal).padEnd(9)} ${seconds.toFixed(1)} s`);
  };
}

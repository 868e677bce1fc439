// Token-merging analysis on the command line: node scripts/merge-report.js --prompt TEXT --merge METHOD [options].
import { resolve } from 'node:path';
import { StableDiffusion } from '../pipeline/stable-diffusion.js';
import { ProgressReporter } from '../pipeline/progress.js';
import { Cli, runScript, ScriptError, UsageError } from './cli.js';
import {
  BUNDLED_MODEL_NOTICE,
  interruptOnSigint,
  loadModel,
  mergeOptions,
  MERGE_OPTIONS,
  MODEL_OPTIONS,
  modelPath,
  resolveSettings,
  SAMPLING_OPTIONS,
  samplingSettings,
  untilInterrupted,
} from './pipeline-options.js';
import { runMergeReport, type ReportGenerateOptions } from './merge-report/report.js';
import { reportFiles, writeReportFiles } from './merge-report/files.js';

// one image per run: the metrics compare one merged image with its baseline
const { n: _n, ...SAMPLING } = SAMPLING_OPTIONS;

const cli = new Cli({
  name: 'merge-report',
  usage: 'node scripts/merge-report.js --prompt TEXT --merge tome|catome|importance|toma [merge options] [--model DIR|FILE] [--steps N] [--seed N] [--out DIR]',
  description:
    'Generates one image without and one with token merging (same prompt, seed and settings) and writes, per U-Net\n' +
    'evaluation and merging block, the merged-token fraction and the Jaccard distance between consecutive evaluations\'\n' +
    'merge pairs (CSV and heat maps), both images, and their PSNR and SSIM (summary.json).',
  options: {
    prompt: { type: 'string', description: 'the prompt (required)' },
    'negative-prompt': { type: 'string', default: '', description: 'what the image should not show' },
    ...MODEL_OPTIONS,
    ...SAMPLING,
    seed: { type: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER, description: 'torch CPU generator seed (default: random, in summary.json)' },
    ...MERGE_OPTIONS,
    out: { type: 'string', default: 'merge-report', valueName: 'DIR', description: 'folder for the report (created if missing; its report files are replaced)' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress output' },
  },
  epilogue: [
    'files written to --out:',
    '  fraction.csv, jaccard.csv  rows = U-Net evaluations (evaluation, timestep), columns = merging blocks (diffusers names)',
    '  fraction.png, jaccard.png  the same as heat maps; baseline.png, merged.png; summary.json',
    'examples:',
    '  node scripts/merge-report.js --prompt "a lighthouse at dusk" --merge tome --steps 4 --width 64 --height 64 --out report',
    '  node scripts/merge-report.js --model ~/models/stable-diffusion-v1-5 --prompt "a lighthouse at dusk" --seed 42 \\',
    '      --merge catome --merge-threshold 0.7 --merge-schedule CONFIG_3 --out report',
  ].join('\n'),
});

await runScript(cli, async ({ values }) => {
  const prompt = values.prompt;
  if (prompt === undefined) throw new UsageError('missing --prompt');
  const merge = mergeOptions(values);
  if (!merge) throw new UsageError('missing --merge METHOD (tome, catome, importance or toma): nothing to report without merging');
  const model = modelPath(values);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`${line}\n`);
  };
  if (model.bundled) log(BUNDLED_MODEL_NOTICE);
  const reporter = values.quiet ? null : new ProgressReporter();
  const interrupt = interruptOnSigint();

  const sd = await loadModel(model.path, values, reporter);
  try {
    const generate: ReportGenerateOptions = {
      prompt,
      negativePrompt: values['negative-prompt'],
      ...samplingSettings(values),
      seed: values.seed,
      signal: interrupt.signal,
    };
    const settings = resolveSettings(sd, generate);
    if (settings.width < 16 || settings.height < 16) throw new UsageError(`SSIM needs images of at least 16x16 pixels, got ${settings.width}x${settings.height}`);
    const adapter = describeAdapter(sd);
    log(`model ${sd.info.path} (${sd.info.layout}, ${sd.dtype}) on ${adapter}`);

    const report = await untilInterrupted(
      () =>
        runMergeReport(sd, {
          generate,
          merge,
          onRun: (run) => {
            reporter?.endLine();
            log(run === 'baseline' ? 'baseline: no token merging' : `merged: ${merge.method}, token maps read back after every evaluation`);
          },
          onProgress: reporter?.update,
        }),
      reporter,
    );
    const dir = resolve(values.out);
    const files = reportFiles(report, { model: sd.info.path, dtype: sd.dtype, adapter });
    let paths: string[];
    try {
      paths = await writeReportFiles(dir, files);
    } catch (e) {
      throw new ScriptError(`cannot write the report to ${dir}: ${(e as Error).message}`);
    }
    for (const p of paths) process.stdout.write(`${p}\n`);
    const fractions = report.blocks.flatMap((b) => b.fraction);
    const meanFraction = fractions.length === 0 ? 0 : fractions.reduce((s, v) => s + v, 0) / fractions.length;
    log(
      `seed ${report.settings.seed}; ${plural(report.evaluations.length, 'evaluation')}, ${plural(report.blocks.length, 'merging block')}, ` +
        `mean merged fraction ${meanFraction.toFixed(3)}; PSNR ${report.psnr === Infinity ? 'inf (identical images)' : `${report.psnr.toFixed(2)} dB`}, ` +
        `SSIM ${report.ssim.toFixed(4)}`,
    );
  } finally {
    interrupt.release();
    sd.dispose();
  }
});

function describeAdapter(sd: StableDiffusion): string {
  const a = sd.runtime.gpu.adapterInfo;
  return a.description || a.device || a.vendor || 'an unnamed adapter';
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

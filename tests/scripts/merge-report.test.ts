// scripts/merge-report.js: its measurements on the bundled tiny model (values, not just files), the
// files it writes, and its command line.

import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { testRuntime } from '../support/runtime.js';
import { fromRoot } from '../../runtime/paths.js';
import { StableDiffusion } from '../../pipeline/stable-diffusion.js';
import { psnr, ssim } from '../../pipeline/image-metrics.js';
import { runMergeReport, type MergeReport, type ReportGenerateOptions } from '../../scripts/merge-report/report.js';
import { REPORT_FILES, reportFiles, writeReportFiles } from '../../scripts/merge-report/files.js';
import type { MergeOptions } from '../../pipeline/merge.js';

t.setTimeout(900_000);

const model = fromRoot('tests', 'fixtures', 'tiny-sd', 'model');
const script = fromRoot('scripts', 'merge-report.js');
// 32×32 images (the VAE's decode dominates on a CPU driver): 4×4 latents, so the five
// full-resolution blocks see 16 tokens
const SIDE = 32;
const generate: ReportGenerateOptions = { prompt: 'a red cube on a table', width: SIDE, height: SIDE, steps: 3, scheduler: 'ddim', seed: 3 };
const FULL_RESOLUTION = [
  'down_blocks.0.attentions.0.transformer_blocks.0',
  'down_blocks.0.attentions.1.transformer_blocks.0',
  'up_blocks.3.attentions.0.transformer_blocks.0',
  'up_blocks.3.attentions.1.transformer_blocks.0',
  'up_blocks.3.attentions.2.transformer_blocks.0',
];
const source = { model: 'tiny', dtype: 'f32', adapter: 'test' };

const work = mkdtempSync(join(tmpdir(), 'merge-report-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** CSV text → header and rows of cells. */
function parseCsv(bytes: Uint8Array): { header: string[]; rows: string[][] } {
  const [header, ...rows] = Buffer.from(bytes).toString('utf8').trimEnd().split('\n').map((l) => l.split(','));
  return { header: header!, rows };
}

t.test('identical images: PSNR Infinity (null in JSON), SSIM 1', async (t) => {
  const rgb = new Uint8Array(SIDE * SIDE * 3).map((_, i) => (i * 7) % 256);
  const image = { width: SIDE, height: SIDE, rgb, seed: 0, index: 0 };
  const timings = { textMs: 1, denoiseMs: 2, decodeMs: 3, totalMs: 6, recordMs: 0 };
  const report: MergeReport = {
    merge: { method: 'catome', threshold: 1 },
    settings: { prompt: 'p', negativePrompt: '', n: 1, guidanceScale: 7.5, steps: 1, width: SIDE, height: SIDE, seed: 0, scheduler: 'ddim', clipSkip: 1 },
    evaluations: [{ index: 0, timestep: 999 }],
    blocks: [],
    baseline: image,
    merged: image,
    psnr: psnr(rgb, rgb),
    ssim: ssim(rgb, rgb, SIDE, SIDE),
    timings: { baseline: timings, merged: timings },
  };
  t.equal(report.psnr, Infinity);
  t.equal(report.ssim, 1);
  const files = reportFiles(report, source);
  const summary = JSON.parse(Buffer.from(files.get('summary.json')!).toString('utf8'));
  t.match(summary, { psnr: null, ssim: 1, imagesIdentical: true, meanFraction: 0, meanJaccard: null, blocks: [] });
  t.equal(Buffer.from(files.get('fraction.csv')!).toString(), 'evaluation,timestep\n0,999\n', 'no merging block: no block column');
});

t.test('measurements and files', async (t) => {
  const rt = await testRuntime();
  const sd = await StableDiffusion.load(model, { dtype: 'f32', runtime: rt });
  t.teardown(() => sd.dispose());

  t.test('ToMe with a fixed split: fraction r/N exactly, distances in [0, 1], the files agree', async (t) => {
    const report = await runMergeReport(sd, { generate, merge: { method: 'tome', ratio: 0.5, useRand: false } });
    t.same(report.evaluations.map((e) => e.index), [0, 1, 2], 'DDIM: one evaluation per step');
    t.ok(report.evaluations.every((e) => typeof e.timestep === 'number'), 'timesteps known');
    t.same(report.blocks.map((b) => b.place.name), FULL_RESOLUTION, 'the full-resolution blocks merge (max_downsample 1)');
    t.same(report.blocks.map((b) => b.label), ['D0.0', 'D0.1', 'U3.0', 'U3.1', 'U3.2']);
    // r = ⌊16 · 0.5⌋ = 8 of 16 tokens in every block, evaluation and batch row
    t.ok(report.blocks.every((b) => b.fraction.length === 3 && b.fraction.every((f) => f === 8 / 16)), 'fraction 8/16 everywhere');
    t.ok(report.blocks.every((b) => Number.isNaN(b.jaccard[0]!)), 'no distance at the first evaluation');
    const later = report.blocks.flatMap((b) => b.jaccard.slice(1));
    t.ok(later.every((d) => d >= 0 && d <= 1), `distances in [0, 1]: ${later.map((d) => d.toFixed(2)).join(' ')}`);
    t.ok(later.some((d) => d > 0), 'pairs recomputed from each evaluation\'s tokens change');
    t.equal(report.settings.seed, 3);
    t.equal(report.psnr, psnr(report.baseline.rgb, report.merged.rgb));
    t.equal(report.ssim, ssim(report.baseline.rgb, report.merged.rgb, SIDE, SIDE));
    t.ok(Number.isFinite(report.psnr) && report.ssim < 1 && report.ssim > 0, `merging changes the image: PSNR ${report.psnr.toFixed(2)} dB, SSIM ${report.ssim.toFixed(4)}`);

    const files = reportFiles(report, source);
    t.same([...files.keys()], [...REPORT_FILES]);
    const fraction = parseCsv(files.get('fraction.csv')!);
    t.same(fraction.header, ['evaluation', 'timestep', ...FULL_RESOLUTION], 'fraction.csv: evaluation, timestep, one column per block');
    t.same(fraction.rows.map((r) => r.slice(0, 2)), report.evaluations.map((e) => [String(e.index), String(e.timestep)]));
    t.ok(fraction.rows.every((r) => r.slice(2).every((v) => v === '0.5')), 'fraction.csv: 0.5 in every cell');
    const jaccard = parseCsv(files.get('jaccard.csv')!);
    t.same(jaccard.rows[0]!.slice(2), ['', '', '', '', ''], 'jaccard.csv: first evaluation empty');
    report.blocks.forEach((b, k) => {
      const column = jaccard.rows.slice(1).map((r) => Number(r[2 + k]));
      t.ok(column.every((v, i) => Math.abs(v - b.jaccard[i + 1]!) < 1e-6), `jaccard.csv column ${b.label}`);
    });
    for (const [name, image] of [['baseline.png', report.baseline], ['merged.png', report.merged]] as const) {
      const png = pngjs.PNG.sync.read(Buffer.from(files.get(name)!));
      const rgb = new Uint8Array(SIDE * SIDE * 3);
      for (let p = 0; p < SIDE * SIDE; p++) rgb.set(png.data.subarray(p * 4, p * 4 + 3), p * 3);
      t.ok(png.width === SIDE && Buffer.from(rgb).equals(Buffer.from(image.rgb)), `${name} holds the image`);
    }
    for (const name of ['fraction.png', 'jaccard.png']) {
      const png = pngjs.PNG.sync.read(Buffer.from(files.get(name)!));
      t.ok(png.width > 100 && png.height > 5 * 16, `${name} is a ${png.width}x${png.height} chart`);
    }
    const summary = JSON.parse(Buffer.from(files.get('summary.json')!).toString('utf8'));
    t.match(summary, { method: 'tome', mergeOptions: { ratio: 0.5, useRand: false }, evaluations: 3, meanFraction: 0.5, imagesIdentical: false });
    t.equal(summary.psnr, report.psnr);
    t.equal(summary.ssim, report.ssim);
    t.equal(summary.settings.seed, 3);
    t.same(summary.blocks.map((b: { name: string; tokens: number }) => [b.name, b.tokens]), FULL_RESOLUTION.map((n) => [n, 16]));

    const dir = join(work, 'tome');
    const paths = await writeReportFiles(dir, files);
    t.same(paths, REPORT_FILES.map((f) => join(dir, f)));
    t.same(readdirSync(dir).sort(), [...REPORT_FILES].sort(), 'the report files and nothing else (no temporaries)');
  });

  t.test('CA-ToMe: pairs cached between checkpoints, so no change between non-checkpoint evaluations', async (t) => {
    const checkpoints = [0, 2];
    const report = await runMergeReport(sd, { generate: { ...generate, steps: 4 }, merge: { method: 'catome', threshold: 0.3, checkpoints, useRand: false } });
    t.same(report.evaluations.map((e) => e.index), [0, 1, 2, 3]);
    t.same(report.blocks.map((b) => b.place.name), FULL_RESOLUTION);
    for (const b of report.blocks) {
      const f = b.fraction;
      t.ok(f.every((v) => v > 0 && v < 1), `${b.label}: merges (fractions ${f.map((v) => v.toFixed(3)).join(' ')})`);
      t.ok(f[0] === f[1] && f[2] === f[3], `${b.label}: the fraction changes only at a checkpoint`);
      const j = b.jaccard;
      // evaluation 1 reuses evaluation 0's pairs and r, 3 reuses 2's
      t.same([j[1], j[3]], [0, 0], `${b.label}: distance 0 at a non-checkpoint evaluation`);
      t.ok(j[2]! >= 0 && j[2]! <= 1, `${b.label}: checkpoint 2 recomputes (distance ${j[2]!.toFixed(3)})`);
    }
  });


  t.test('bad input rejects before any image is made', async (t) => {
    // the type of 'none' options admits no literal: a caller in plain JS could still pass one
    await t.rejects(runMergeReport(sd, { generate, merge: { method: 'none' } as unknown as MergeOptions }), /pick a merging method/);
    await t.rejects(runMergeReport(sd, { generate: { ...generate, width: 8, height: 8 }, merge: { method: 'tome' } }), /at least 11x11 pixels, got 8x8/);
  });
});

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function mergeReport(args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('the command line', async (t) => {
  t.test('writes the report with ToMA and lists the files', async (t) => {
    const out = join(work, 'cli', 'toma');
    const r = await mergeReport(['--prompt', 'a red cube', '--merge', 'toma', '--merge-tiles', '4', '--steps', '1', '--scheduler', 'ddim', '--width', '32', '--height', '32', '--seed', '5', '--dtype', 'f32', '--out', out]);
    t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(-500)})`);
    t.same(r.stdout.trim().split('\n'), REPORT_FILES.map((f) => join(out, f)), 'prints the paths written');
    t.same(readdirSync(out).sort(), [...REPORT_FILES].sort());
    t.match(r.stderr, /baseline: no token merging/);
    t.match(r.stderr, /seed 5; 1 evaluation, 5 merging blocks, mean merged fraction [\d.]+; PSNR [\d.]+ dB, SSIM [\d.]+/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    t.match(summary, { method: 'toma', mergeOptions: { tiles: 4 }, evaluations: 1, dtype: 'f32' });
    // ToMA's map is the hard reading of its soft assignment: at least r/N = 0.5 merged
    t.ok(summary.meanFraction >= 0.5 && summary.meanFraction < 1, `mean fraction ${summary.meanFraction}`);
  });

  t.test('--help, bad command lines and failures write nothing', async (t) => {
    const help = await mergeReport(['--help']);
    t.equal(help.code, 0);
    t.match(help.stdout, /^usage: node scripts\/merge-report\.js --prompt TEXT --merge/);
    for (const flag of ['--prompt', '--merge', '--merge-ratio', '--merge-schedule', '--model', '--steps', '--seed', '--out', 'fraction.csv']) {
      t.match(help.stdout, new RegExp(`${flag.replace('.', '\\.')}\\b`), `documents ${flag}`);
    }
    t.notMatch(help.stdout, /--n\b/, 'one image per run: no --n');
    const out = join(work, 'cli', 'never');
    const cases: [string[], RegExp, number][] = [
      [['--merge', 'tome'], /^merge-report: missing --prompt$/m, 2],
      [['--prompt', 'x'], /^merge-report: missing --merge METHOD/m, 2],
      [['--prompt', 'x', '--merge', 'tome', '--merge-threshold', '0.5'], /^merge-report: --merge-threshold does not apply to --merge tome$/m, 2],
      [['--prompt', 'x', '--merge', 'tome', '--n', '2'], /^merge-report: unknown option --n$/m, 2],
      [['--prompt', 'x', '--merge', 'tome', '--model', join(work, 'missing')], /^merge-report: model .* does not exist/m, 1],
    ];
    for (const [args, message, code] of cases) {
      const r = await mergeReport([...args, '--out', out]);
      t.equal(r.code, code, `${args.join(' ')}: exit ${code}`);
      t.match(r.stderr, message);
    }
    t.notOk(existsSync(out), 'no output folder made');
  });
});

// The merge report's files, made in memory first and then written each to a temporary name and
// renamed, so a failed run writes nothing and an interrupted write leaves no half-written file.
//
//   fraction.csv, jaccard.csv   one row per U-Net evaluation: evaluation, timestep, then one column
//                               per merging block (its diffusers name); jaccard's first row is empty
//   fraction.png, jaccard.png   the same as heat maps (rows = blocks, columns = evaluations)
//   baseline.png, merged.png    the images without and with merging
//   summary.json                method, options, settings, PSNR, SSIM, means, per-block means, timings

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng, writeFileAtomic } from '../../pipeline/png.js';
import type { StageTimings } from '../../pipeline/stable-diffusion.js';
import { heatmapPng } from './heatmap.js';
import type { MergeReport } from './report.js';
import type { BlockSeries } from './series.js';

export const REPORT_FILES = ['fraction.csv', 'jaccard.csv', 'fraction.png', 'jaccard.png', 'baseline.png', 'merged.png', 'summary.json'] as const;

/** What the summary says about where the images came from. */
export interface ReportSource {
  readonly model: string;
  readonly dtype: string;
  readonly adapter: string;
}

/** Every file of the report, by name. */
export function reportFiles(report: MergeReport, source: ReportSource): Map<string, Uint8Array> {
  const text = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
  const files = new Map<string, Uint8Array>();
  files.set('fraction.csv', text(seriesCsv(report, (b) => b.fraction)));
  files.set('jaccard.csv', text(seriesCsv(report, (b) => b.jaccard)));
  files.set('fraction.png', heatmap(report, 'MERGED FRACTION', (b) => b.fraction));
  files.set('jaccard.png', heatmap(report, 'JACCARD DISTANCE TO PREVIOUS EVALUATION', (b) => b.jaccard));
  files.set('baseline.png', encodePng(report.baseline.width, report.baseline.height, report.baseline.rgb));
  files.set('merged.png', encodePng(report.merged.width, report.merged.height, report.merged.rgb));
  files.set('summary.json', text(`${JSON.stringify(summary(report, source), null, 2)}\n`));
  return files;
}

/** Writes the files into dir (created if missing); returns their paths. */
export async function writeReportFiles(dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const [name, bytes] of files) {
    const path = join(dir, name);
    await writeFileAtomic(path, bytes);
    paths.push(path);
  }
  return paths;
}

/** Wide CSV: evaluation, timestep, one column per block; NaN cells are left empty. */
export function seriesCsv(report: MergeReport, values: (b: BlockSeries) => readonly number[]): string {
  const header = ['evaluation', 'timestep', ...report.blocks.map((b) => b.place.name)];
  const lines = [header.join(',')];
  report.evaluations.forEach((e, k) => {
    lines.push([String(e.index), e.timestep === null ? '' : String(e.timestep), ...report.blocks.map((b) => formatValue(values(b)[k]!))].join(','));
  });
  return `${lines.join('\n')}\n`;
}

function formatValue(v: number): string {
  return Number.isNaN(v) ? '' : String(Number(v.toFixed(6)));
}

function heatmap(report: MergeReport, title: string, values: (b: BlockSeries) => readonly number[]): Uint8Array {
  return heatmapPng({
    title: `${title} (${report.merge.method.toUpperCase()})`,
    rowLabels: report.blocks.map((b) => b.label),
    columnAxis: 'U-NET EVALUATION',
    columnLabels: report.evaluations.map((e) => String(e.index)),
    values: report.blocks.map(values),
  });
}

/** Mean of the values that are numbers; null when there are none. */
function mean(values: readonly number[]): number | null {
  const known = values.filter((v) => !Number.isNaN(v));
  return known.length === 0 ? null : known.reduce((s, v) => s + v, 0) / known.length;
}

function timings(t: StageTimings): Record<string, number> {
  return { textMs: t.textMs, denoiseMs: t.denoiseMs, decodeMs: t.decodeMs, totalMs: t.totalMs };
}

function summary(report: MergeReport, source: ReportSource): Record<string, unknown> {
  const { merge, settings } = report;
  const { method, ...mergeOptions } = merge;
  const identical = report.psnr === Infinity;
  return {
    method,
    mergeOptions,
    model: source.model,
    dtype: source.dtype,
    adapter: source.adapter,
    settings,
    evaluations: report.evaluations.length,
    // JSON has no Infinity: identical images report psnr null and imagesIdentical true
    psnr: identical ? null : report.psnr,
    ssim: report.ssim,
    imagesIdentical: identical,
    meanFraction: mean(report.blocks.flatMap((b) => b.fraction)) ?? 0,
    meanJaccard: mean(report.blocks.flatMap((b) => b.jaccard)),
    blocks: report.blocks.map((b) => ({
      name: b.place.name,
      label: b.label,
      grid: `${b.place.width}x${b.place.height}`,
      tokens: b.place.tokens,
      meanFraction: mean(b.fraction),
      meanJaccard: mean(b.jaccard),
    })),
    timings: {
      baseline: timings(report.timings.baseline),
      merged: timings(report.timings.merged),
      note: 'wall-clock per run; the baseline runs first and includes shader compilation, the merged run waits for the GPU after every evaluation to read its token maps',
    },
    definitions: {
      fraction: '1 - (distinct merged rows) / N per block and evaluation, averaged over the batch rows (unconditional and conditional under guidance); 0 where the block merged nothing',
      jaccard:
        '1 - |A ∩ B| / |A ∪ B| between the merge pairs of an evaluation and the previous one (0 when both are empty); a merge pair = two tokens of one batch row sharing a merged row',
      psnr: 'dB over every RGB byte, 8-bit peak 255',
      ssim: 'Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, over windows inside the image, averaged over R, G, B',
    },
    files: [...REPORT_FILES],
  };
}

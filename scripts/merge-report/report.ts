// The merge report's measurements: one image without token merging and one with it (same prompt,
// seed and settings), the merging run observed through a TokenMapRecorder whose token maps are read
// back after every U-Net evaluation, and the image-quality metrics between the two.

import type { StableDiffusion, GenerateOptions, GeneratedImage, ResolvedSettings, StageTimings } from '../../pipeline/stable-diffusion.js';
import type { ProgressCallback } from '../../pipeline/progress.js';
import type { MergeOptions } from '../../pipeline/merge.js';
import { createMergePlugin } from '../../merge/index.js';
import { TokenMapRecorder } from '../../merge/token-map-recorder.js';
import { psnr, ssim, SSIM_WINDOW } from '../../pipeline/image-metrics.js';
import { MergeSeries, type BlockSeries, type EvaluationInfo } from './series.js';

/** The generation settings shared by both images (one image: n is 1). */
export type ReportGenerateOptions = Omit<GenerateOptions, 'n' | 'merge' | 'onStep' | 'onProgress' | 'latents' | 'profile'>;

export interface MergeReportOptions {
  readonly generate: ReportGenerateOptions;
  readonly merge: MergeOptions;
  /** Which run starts (stderr headings) and its progress events. */
  readonly onRun?: (run: 'baseline' | 'merged') => void;
  readonly onProgress?: ProgressCallback;
}

export interface MergeReport {
  readonly merge: MergeOptions;
  /** Both runs' settings (the seed fixed before the first). */
  readonly settings: ResolvedSettings;
  readonly evaluations: readonly EvaluationInfo[];
  /** Blocks that merged at least once, in execution order. */
  readonly blocks: readonly BlockSeries[];
  readonly baseline: GeneratedImage;
  readonly merged: GeneratedImage;
  /** dB over all RGB bytes; Infinity when the images are identical. */
  readonly psnr: number;
  /** Mean SSIM averaged over R, G and B. */
  readonly ssim: number;
  readonly timings: { readonly baseline: StageTimings; readonly merged: StageTimings };
}

/** Runs both generations on a loaded model and measures them. */
export async function runMergeReport(sd: StableDiffusion, options: MergeReportOptions): Promise<MergeReport> {
  if (options.merge.method === 'none') throw new Error('merge report: pick a merging method (nothing to report for none)');
  // fix the seed (random when absent) so both runs start from the same noise
  const settings = sd.resolve({ ...options.generate, n: 1 });
  if (settings.width < SSIM_WINDOW || settings.height < SSIM_WINDOW) {
    throw new Error(`merge report: SSIM needs images of at least ${SSIM_WINDOW}x${SSIM_WINDOW} pixels, got ${settings.width}x${settings.height}`);
  }
  const common: GenerateOptions = { ...options.generate, n: 1, seed: settings.seed, onProgress: options.onProgress };

  options.onRun?.('baseline');
  const baseline = await sd.generateWithStats(common);

  options.onRun?.('merged');
  const series = new MergeSeries();
  let recorder: TokenMapRecorder | null = null;
  const merged = await sd.generateWithStats({
    ...common,
    merge: (rt) => (recorder = new TokenMapRecorder(rt, createMergePlugin(rt, options.merge))),
    // after each evaluation: read its token maps back (analysis only; this waits for the GPU)
    onStep: async (step) => {
      if (step < 0 || !recorder) return;
      for (const evaluation of await recorder.read()) series.add(evaluation);
    },
  });

  const a = baseline.images[0]!;
  const b = merged.images[0]!;
  return {
    merge: options.merge,
    settings,
    evaluations: series.evaluations,
    blocks: series.blocks,
    baseline: a,
    merged: b,
    psnr: psnr(a.rgb, b.rgb),
    ssim: ssim(a.rgb, b.rgb, a.width, a.height),
    timings: { baseline: baseline.timings, merged: merged.timings },
  };
}

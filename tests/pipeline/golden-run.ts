// Runs the fixture's golden generation (tests/fixtures/tiny-sd/golden/pipeline.safetensors, index.json
// "pipeline": 20 PLMS steps, CFG 7.5) through the public API and reads back the latents it records.

import { readFileSync } from 'node:fs';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { GenerateOptions, GenerationResult, StableDiffusion } from '../../pipeline/stable-diffusion.js';

export const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
export const index = JSON.parse(readFileSync(`${fixture}/golden/index.json`, 'utf8')) as {
  seed: number;
  pipeline: { steps: number; guidance_scale: number; prompt: string; negative_prompt: string };
};
export const LATENT_TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2 };
/** Evaluations after which the golden records the latents (besides the initial and final ones). */
export const RECORDED_STEPS = [0, 1, 2, 5];

export const goldenSettings: GenerateOptions = {
  prompt: index.pipeline.prompt,
  negativePrompt: index.pipeline.negative_prompt,
  steps: index.pipeline.steps,
  guidanceScale: index.pipeline.guidance_scale,
  seed: index.seed,
  scheduler: 'plms',
  width: 128,
  height: 128,
};

export function openGolden(): Promise<SafetensorsFile> {
  return SafetensorsFile.open(`${fixture}/golden/pipeline.safetensors`);
}

export interface GoldenRun {
  /** Golden names (with the prefix) → our values: latents0, latents_after_i, latents. */
  readonly latents: Map<string, Float32Array>;
  /** null when stopped before the decode. */
  readonly result: GenerationResult | null;
  /** The last step onStep saw. */
  readonly lastStep: number;
}

/**
 * Generates the golden image with `extra` options; the golden names carry `prefix` (e.g. 'tome0.5.').
 * decode false aborts right after the last step (saves the decode when only latents are checked).
 */
export async function runGolden(
  rt: Runtime,
  sd: StableDiffusion,
  golden: SafetensorsFile,
  options: { prefix?: string; decode: boolean; extra?: Partial<GenerateOptions> },
): Promise<GoldenRun> {
  const prefix = options.prefix ?? '';
  const latents = new Map<string, Float32Array>();
  const abort = new AbortController();
  let lastStep = -2;
  const finalStep = index.pipeline.steps; // PLMS: steps + 1 evaluations
  const pending = sd.generateWithStats({
    ...goldenSettings,
    ...options.extra,
    // The fixture's initial latents are not torch CPU randn(seed) (tests/pipeline/torch-generator.test.ts
    // checks the generator against torch itself), so they come in as diffusers' `latents` argument.
    latents: await golden.readFloat32('latents0'),
    signal: abort.signal,
    onStep: async (step, x) => {
      lastStep = step;
      if (step === -1 && prefix === '') latents.set('latents0', await rt.read(x));
      if (RECORDED_STEPS.includes(step)) latents.set(`${prefix}latents_after_${step}`, await rt.read(x));
      if (step === finalStep) {
        latents.set(`${prefix}latents`, await rt.read(x));
        if (!options.decode) abort.abort();
      }
    },
  });
  if (options.decode) return { latents, result: await pending, lastStep };
  try {
    await pending;
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
  }
  return { latents, result: null, lastStep };
}

/** Largest |ours − golden| over the image, in 8-bit steps, and how many values differ. */
export function imageDifference(rgb: Uint8Array, planar: ArrayLike<number>, width: number, height: number): { worst: number; differing: number } {
  const plane = width * height;
  let worst = 0;
  let differing = 0;
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const d = Math.abs(rgb[p * 3 + c]! - planar[c * plane + p]!);
      worst = Math.max(worst, d);
      if (d > 0) differing++;
    }
  }
  return { worst, differing };
}

// Runs a fixture's golden generation (golden/index.json "pipeline": PLMS, CFG, one prompt) through
// the public API and reads back the latents the golden records. Shared by the conformance part and
// the pipeline tests. Reading latents per step syncs the GPU: this is an analysis path, not the loop.

import type { Runtime } from '../../runtime/runtime.js';
import type { GenerateOptions, GenerationResult, StableDiffusion } from '../stable-diffusion.js';

/** Evaluations after which the golden records the latents (besides the initial and final ones). */
export const RECORDED_STEPS = [0, 1, 2, 5];

/** The "pipeline" section of golden/index.json, plus the fixture-wide seed. */
export interface PipelineGoldenSpec {
  readonly seed: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
}

export function pipelineGoldenSpec(index: Readonly<Record<string, unknown>>, latentShape: readonly number[], vaeScale: number): PipelineGoldenSpec {
  const p = (index['pipeline'] ?? {}) as Record<string, unknown>;
  const num = (v: unknown, name: string): number => {
    if (typeof v !== 'number') throw new Error(`golden/index.json: pipeline.${name} missing`);
    return v;
  };
  return {
    seed: num(index['seed'], 'seed'),
    steps: num(p['steps'], 'steps'),
    guidanceScale: num(p['guidance_scale'], 'guidance_scale'),
    prompt: String(p['prompt'] ?? ''),
    negativePrompt: String(p['negative_prompt'] ?? ''),
    height: latentShape[2]! * vaeScale,
    width: latentShape[3]! * vaeScale,
  };
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
 * The initial latents come from the golden ('latents0', diffusers' `latents` argument): the
 * fixture's were not drawn with torch's CPU generator. decode false aborts after the last step.
 */
export async function runGolden(
  rt: Runtime,
  sd: StableDiffusion,
  spec: PipelineGoldenSpec,
  initialLatents: Float32Array,
  options: { prefix?: string; decode: boolean; extra?: Partial<GenerateOptions> },
): Promise<GoldenRun> {
  const prefix = options.prefix ?? '';
  const latents = new Map<string, Float32Array>();
  const abort = new AbortController();
  let lastStep = -2;
  const finalStep = spec.steps; // PLMS: steps + 1 evaluations
  const pending = sd.generateWithStats({
    prompt: spec.prompt,
    negativePrompt: spec.negativePrompt,
    steps: spec.steps,
    guidanceScale: spec.guidanceScale,
    seed: spec.seed,
    scheduler: 'plms',
    width: spec.width,
    height: spec.height,
    ...options.extra,
    latents: initialLatents,
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

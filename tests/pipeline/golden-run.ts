// Runs the fixture's golden generation (tests/fixtures/tiny-sd/golden/pipeline.safetensors, index.json
// "pipeline": 20 PLMS steps, CFG 7.5) through the public API and reads back the latents it records.

import { readFileSync } from 'node:fs';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { GenerateOptions, StableDiffusion } from '../../pipeline/stable-diffusion.js';
import { imageDifference, RECORDED_STEPS, runGolden as runSpec, type GoldenRun, type PipelineGoldenSpec } from '../../pipeline/conformance/pipeline-run.js';

export const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
export const index = JSON.parse(readFileSync(`${fixture}/golden/index.json`, 'utf8')) as {
  seed: number;
  pipeline: { steps: number; guidance_scale: number; prompt: string; negative_prompt: string };
};
export const LATENT_TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2 };
export { RECORDED_STEPS, imageDifference };

export function openGolden(): Promise<SafetensorsFile> {
  return SafetensorsFile.open(`${fixture}/golden/pipeline.safetensors`);
}

const spec: PipelineGoldenSpec = {
  seed: index.seed,
  steps: index.pipeline.steps,
  guidanceScale: index.pipeline.guidance_scale,
  prompt: index.pipeline.prompt,
  negativePrompt: index.pipeline.negative_prompt,
  width: 128,
  height: 128,
};

/** The golden generation on the repository fixture (see pipeline/conformance/pipeline-run.ts). */
export async function runGolden(
  rt: Runtime,
  sd: StableDiffusion,
  golden: SafetensorsFile,
  options: { prefix?: string; decode: boolean; extra?: Partial<GenerateOptions> },
): Promise<GoldenRun> {
  return runSpec(rt, sd, spec, await golden.readFloat32('latents0'), options);
}

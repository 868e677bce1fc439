// The whole pipeline against diffusers' StableDiffusionPipeline on the tiny fixture model: 20 PLMS
// steps, CFG 7.5, seed from index.json; initial, intermediate and final latents and the 8-bit image.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors.js';
import { StableDiffusion, type GenerateOptions } from '../../pipeline/stable-diffusion.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { Runtime } from '../../runtime/runtime.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
const index = JSON.parse(readFileSync(`${fixture}/golden/index.json`, 'utf8')) as {
  seed: number;
  pipeline: { steps: number; guidance_scale: number; prompt: string; negative_prompt: string };
};
const LATENT_TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2 };
/** Steps whose latents the golden records (after evaluation i), besides the initial and final ones. */
const RECORDED_STEPS = [0, 1, 2, 5];

// 21 U-Net evaluations and a decode take minutes on lavapipe.
t.setTimeout(1_800_000);

const settings: GenerateOptions = {
  prompt: index.pipeline.prompt,
  negativePrompt: index.pipeline.negative_prompt,
  steps: index.pipeline.steps,
  guidanceScale: index.pipeline.guidance_scale,
  seed: index.seed,
  scheduler: 'plms',
  width: 128,
  height: 128,
};

/** Runs the pipeline, reading back the latents the golden has; `decode` false stops after the loop. */
async function run(rt: Runtime, sd: StableDiffusion, golden: SafetensorsFile, prefix: string, decode: boolean) {
  const latents = new Map<string, Float32Array>();
  const abort = new AbortController();
  let last = -1;
  const result = sd.generateWithStats({
    ...settings,
    // The fixture's initial latents are not torch CPU randn(seed) (tests/pipeline/torch-generator.test.ts
    // covers the generator against torch), so they are handed in as diffusers' `latents` argument.
    latents: await golden.readFloat32(`latents0`),
    signal: abort.signal,
    onStep: async (step, x) => {
      last = step;
      if (step === -1) latents.set(`${prefix}latents0`, await rt.read(x));
      if (RECORDED_STEPS.includes(step)) latents.set(`${prefix}latents_after_${step}`, await rt.read(x));
      if (step === index.pipeline.steps) {
        latents.set(`${prefix}latents`, await rt.read(x));
        if (!decode) abort.abort();
      }
    },
  });
  if (decode) return { latents, result: await result, last };
  await result.then(
    () => undefined,
    (e: Error) => {
      if (e.name !== 'AbortError') throw e;
    },
  );
  return { latents, result: null, last };
}

t.test('pipeline matches diffusers (f32)', async (t) => {
  const rt = await testRuntime();
  const golden = await SafetensorsFile.open(`${fixture}/golden/pipeline.safetensors`);
  const sd = await StableDiffusion.load(`${fixture}/model`, { dtype: 'f32', runtime: rt });
  t.teardown(() => sd.dispose());
  const { latents, result, last } = await run(rt, sd, golden, '', true);
  t.equal(last, index.pipeline.steps, 'PLMS: steps + 1 evaluations');
  t.equal(result!.evaluations, index.pipeline.steps + 1);
  for (const [name, got] of latents) {
    const err = maxRelError(got, await golden.readFloat32(name));
    t.ok(err <= LATENT_TOLERANCE.f32, `${name}: max rel error ${err.toExponential(2)}`);
  }
  t.equal(latents.size, RECORDED_STEPS.length + 2, 'every recorded tensor compared');

  const image = result!.images[0]!;
  t.equal(image.width, 128);
  t.equal(image.height, 128);
  t.equal(image.seed, index.seed);
  const want = await golden.readInts('image_u8'); // [1, 3, H, W] planar
  const plane = image.width * image.height;
  let worst = 0;
  let off = 0;
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const d = Math.abs(image.rgb[p * 3 + c]! - want[c * plane + p]!);
      worst = Math.max(worst, d);
      if (d > 0) off++;
    }
  }
  t.ok(worst <= 1, `image_u8 within ±1 (max ${worst}, ${off} of ${plane * 3} values differ)`);
  await golden.close();
});

t.test('pipeline matches diffusers (f16 final latents)', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('skipped: no shader-f16 on this device');
    return;
  }
  const golden = await SafetensorsFile.open(`${fixture}/golden/pipeline.safetensors`);
  const sd = await StableDiffusion.load(`${fixture}/model`, { dtype: 'f16', runtime: rt });
  t.teardown(() => sd.dispose());
  t.equal(sd.dtype, 'f16');
  const { latents } = await run(rt, sd, golden, '', false);
  const err = maxRelError(latents.get('latents')!, await golden.readFloat32('latents'));
  t.ok(err <= LATENT_TOLERANCE.f16, `f16 final latents: max rel error ${err.toExponential(2)}`);
  await golden.close();
});

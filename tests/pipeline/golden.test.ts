// The whole pipeline against diffusers' StableDiffusionPipeline on the tiny fixture model (f32):
// initial, intermediate and final latents ≤ 1e-4 relative, the 8-bit image within ±1.

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import { StableDiffusion } from '../../pipeline/stable-diffusion.js';
import { fixture, imageDifference, index, LATENT_TOLERANCE, openGolden, RECORDED_STEPS, runGolden } from './golden-run.js';

// 21 U-Net evaluations and a decode take minutes on lavapipe.
t.setTimeout(900_000);

t.test('pipeline matches diffusers (f32)', async (t) => {
  const rt = await testRuntime();
  const golden = await openGolden();
  const sd = await StableDiffusion.load(`${fixture}/model`, { dtype: 'f32', runtime: rt });
  t.teardown(async () => {
    sd.dispose();
    await golden.close();
  });
  const { latents, result, lastStep } = await runGolden(rt, sd, golden, { decode: true });
  t.equal(lastStep, index.pipeline.steps, 'PLMS: steps + 1 evaluations');
  t.equal(result!.evaluations, index.pipeline.steps + 1);
  t.equal(latents.size, RECORDED_STEPS.length + 2, 'every recorded tensor read');
  for (const [name, got] of latents) {
    const err = maxRelError(got, await golden.readFloat32(name));
    t.ok(err <= LATENT_TOLERANCE.f32, `${name}: max rel error ${err.toExponential(2)}`);
  }
  const image = result!.images[0]!;
  t.same([image.width, image.height, image.seed, image.index], [128, 128, index.seed, 0]);
  const { worst, differing } = imageDifference(image.rgb, await golden.readInts('image_u8'), image.width, image.height);
  t.ok(worst <= 1, `image_u8 within ±1 (max ${worst}; ${differing} of ${image.rgb.length} values differ)`);
});

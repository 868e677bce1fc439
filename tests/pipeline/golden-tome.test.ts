// The pipeline with ToMe against diffusers + tomesd (ratio 0.5, use_rand False, max_downsample 1,
// self-attention only) on the tiny fixture model: latents ≤ 1e-4 relative, the image within ±1.

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import { StableDiffusion } from '../../pipeline/stable-diffusion.js';
import { toByte } from '../../pipeline/image.js';
import { fixture, imageDifference, LATENT_TOLERANCE, openGolden, RECORDED_STEPS, runGolden } from './golden-run.js';

t.setTimeout(900_000);

t.test('pipeline with ToMe 0.5 matches diffusers + tomesd (f32)', async (t) => {
  const rt = await testRuntime();
  const golden = await openGolden();
  const sd = await StableDiffusion.load(`${fixture}/model`, { dtype: 'f32', runtime: rt });
  t.teardown(async () => {
    sd.dispose();
    await golden.close();
  });
  const prefix = 'tome0.5.';
  const { latents, result } = await runGolden(rt, sd, golden, {
    prefix,
    decode: true,
    extra: { merge: { method: 'tome', ratio: 0.5, useRand: false, maxDownsample: 1 } },
  });
  t.equal(latents.size, RECORDED_STEPS.length + 1, 'every recorded tensor read');
  for (const [name, got] of latents) {
    const err = maxRelError(got, await golden.readFloat32(name));
    t.ok(err <= LATENT_TOLERANCE.f32, `${name}: max rel error ${err.toExponential(2)}`);
  }
  const image = result!.images[0]!;
  const { worst, differing } = imageDifference(image.rgb, toU8(await golden.readFloat32(`${prefix}image`)), image.width, image.height);
  t.ok(worst <= 1, `${prefix}image within ±1 (max ${worst}; ${differing} of ${image.rgb.length} values differ)`);
});

/** The golden's decoded image [1, 3, H, W] in [-1, 1] as bytes, the way the pipeline makes them. */
function toU8(image: Float32Array): Uint8Array {
  return Uint8Array.from(image, toByte);
}

// The f16 pipeline against diffusers' f32 run on the tiny fixture model: final latents ≤ 1e-2 relative.

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import { StableDiffusion } from '../../pipeline/stable-diffusion.js';
import { fixture, LATENT_TOLERANCE, openGolden, runGolden } from './golden-run.js';

t.setTimeout(900_000);

t.test('f16 pipeline final latents match diffusers', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('skipped: this device has no shader-f16');
    return;
  }
  const golden = await openGolden();
  const sd = await StableDiffusion.load(`${fixture}/model`, { dtype: 'f16', runtime: rt });
  t.teardown(async () => {
    sd.dispose();
    await golden.close();
  });
  t.equal(sd.dtype, 'f16');
  t.equal(sd.info.vaeDType, 'f32', 'the VAE is upcast (force_upcast)');
  const { latents } = await runGolden(rt, sd, golden, { decode: false });
  const err = maxRelError(latents.get('latents')!, await golden.readFloat32('latents'));
  t.ok(err <= LATENT_TOLERANCE.f16, `f16 final latents: max rel error ${err.toExponential(2)}`);
});

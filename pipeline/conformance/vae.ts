// VAE conformance: decoding the golden latents (the image and every decoder activation diffusers
// recorded) and encoding the golden image back (the latent distribution's mean and log-variance).

import type { Tensor } from '../../runtime/tensor.js';
import { copyingCapture, disposeAll, loadVae } from './models.js';
import { maxRelError } from './metrics.js';
import { MODEL_TOLERANCE, type ConformancePart, type PartContext } from './types.js';

const GOLDEN = 'vae';
/** Golden tensors that are inputs or whole-model outputs; every other name is an activation to capture. */
const NOT_ACTIVATIONS = new Set(['latents', 'decoded', 'encoded_mean', 'encoded_logvar']);

export const vaePart: ConformancePart = {
  name: 'vae',
  description: 'VAE decode (image and decoder intermediates) and encode (mean, logvar) against diffusers',
  claims: (file) => file === GOLDEN,
  async run(ctx: PartContext): Promise<void> {
    if (!ctx.golden.has(GOLDEN)) return;
    const { rt, dtype } = ctx;
    const golden = await ctx.golden.open(GOLDEN);
    const bar = MODEL_TOLERANCE[dtype];
    const activations = new Set(golden.tensors().filter((n) => !NOT_ACTIVATIONS.has(n)));
    const vae = await loadVae(rt, await ctx.folder(), dtype);
    const captured = new Map<string, Tensor>();
    const capture = copyingCapture(rt, activations, captured);
    const compare = async (name: string, got: Tensor): Promise<void> => {
      ctx.check({ name: `vae ${name}`, metric: 'max rel error', error: maxRelError(await rt.read(got), await golden.floats(name)), bar });
    };
    try {
      if (golden.has('latents') && golden.has('decoded')) {
        const latents = rt.upload(await golden.floats('latents'), golden.shape('latents'), 'f32');
        const decoded = vae.decode(latents, { capture });
        latents.dispose();
        await compare('decoded', decoded);
        decoded.dispose();
      }
      if (golden.has('decoded') && (golden.has('encoded_mean') || golden.has('encoded_logvar'))) {
        const image = rt.upload(await golden.floats('decoded'), golden.shape('decoded'), 'f32');
        const { mean, logvar } = vae.encode(image, { capture });
        image.dispose();
        if (golden.has('encoded_mean')) await compare('encoded_mean', mean);
        if (golden.has('encoded_logvar')) await compare('encoded_logvar', logvar);
        mean.dispose();
        logvar.dispose();
      }
      // activations this VAE does not expose stay unread, so they are reported as skipped
      for (const name of activations) {
        const got = captured.get(name);
        if (got) await compare(name, got);
      }
    } finally {
      disposeAll(captured.values());
      vae.dispose();
    }
  },
};

// U-Net conformance: the noise prediction at every golden timestep (t<T>.out) and the intermediate
// activations diffusers recorded (t<T>.<module>), for the golden sample and text embeddings.

import type { Tensor } from '../../runtime/tensor.js';
import { copyingCapture, disposeAll, loadUNet } from './models.js';
import { maxRelError } from './metrics.js';
import { MODEL_TOLERANCE, type ConformancePart, type PartContext } from './types.js';

const GOLDEN = 'unet';
const PER_TIMESTEP = /^t(\d+)\.(.+)$/;

/** Golden outputs grouped by timestep, in the order index.json lists the timesteps (else descending). */
export function unetGoldenTimesteps(tensors: readonly string[], listed: unknown): Map<number, string[]> {
  const byStep = new Map<number, string[]>();
  for (const name of tensors) {
    const m = PER_TIMESTEP.exec(name);
    if (!m) continue;
    const t = Number(m[1]);
    byStep.set(t, [...(byStep.get(t) ?? []), m[2]!]);
  }
  const order = Array.isArray(listed) ? listed.filter((t): t is number => typeof t === 'number' && byStep.has(t)) : [];
  for (const t of [...byStep.keys()].sort((a, b) => b - a)) if (!order.includes(t)) order.push(t);
  return new Map(order.map((t) => [t, byStep.get(t)!]));
}

export const unetPart: ConformancePart = {
  name: 'unet',
  description: 'U-Net noise prediction at each golden timestep and its intermediates against diffusers',
  claims: (file) => file === GOLDEN,
  async run(ctx: PartContext): Promise<void> {
    if (!ctx.golden.has(GOLDEN)) return;
    const { rt, dtype } = ctx;
    const golden = await ctx.golden.open(GOLDEN);
    const steps = unetGoldenTimesteps(golden.tensors(), ctx.golden.section(GOLDEN)?.['timesteps']);
    if (steps.size === 0) return;
    const bar = MODEL_TOLERANCE[dtype];
    const files = await ctx.folder();
    const unet = await loadUNet(rt, files, dtype);
    const inputs: Tensor[] = [];
    try {
      const sample = rt.upload(await golden.floats('sample'), golden.shape('sample'), 'f32');
      inputs.push(sample);
      const context = rt.upload(await golden.floats('encoder_hidden_states'), golden.shape('encoder_hidden_states'), 'f32');
      inputs.push(context);
      for (const [t, names] of steps) {
        const intermediates = new Set(names.filter((n) => n !== 'out'));
        const captured = new Map<string, Tensor>();
        try {
          const out = unet.forward(sample, t, context, intermediates.size > 0 ? { capture: copyingCapture(rt, intermediates, captured) } : {});
          captured.set('out', out);
          for (const name of names) {
            const got = captured.get(name);
            // an activation this U-Net does not expose stays unread, so it is reported as skipped
            if (!got) continue;
            const error = maxRelError(await rt.read(got), await golden.floats(`t${t}.${name}`));
            ctx.check({ name: `unet t${t}.${name}`, metric: 'max rel error', error, bar });
          }
        } finally {
          disposeAll(captured.values());
        }
      }
    } finally {
      disposeAll(inputs);
      unet.dispose();
    }
  },
};

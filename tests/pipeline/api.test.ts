// The embedding API on the bundled tiny model: reproducible seeds, progress events, per-generation
// merge plug-ins, option checks, and cancellation that frees everything.

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { fromRoot } from '../../runtime/paths.js';
import { StableDiffusion, type GenerateOptions } from '../../pipeline/stable-diffusion.js';
import type { Progress } from '../../pipeline/progress.js';
import type { AttentionPlugin } from '../../unet/hooks.js';

const model = fromRoot('tests', 'fixtures', 'tiny-sd', 'model');
// Small and short: 64×64 images (8×8 latents), one or a few DDIM steps.
const quick: GenerateOptions = { prompt: 'a red cube on a table', width: 64, height: 64, steps: 1, scheduler: 'ddim' };

t.setTimeout(900_000);

t.test('embedding API', async (t) => {
  const rt = await testRuntime();
  const sd = await StableDiffusion.load(model, { dtype: 'f32', runtime: rt });
  t.teardown(() => sd.dispose());
  t.equal(sd.defaultSize, 128, 'default size: the U-Net sample size times the VAE scale');
  t.equal(sd.sizeMultiple, 8);

  t.test('a seed reproduces the image; a plug-in is made and released per generation', async (t) => {
    const events: Progress[] = [];
    const first = await sd.generate({ ...quick, seed: 99, onProgress: (p) => events.push(p) });
    t.equal(first.length, 1);
    t.same([first[0]!.width, first[0]!.height, first[0]!.seed, first[0]!.rgb.length], [64, 64, 99, 64 * 64 * 3]);
    t.same(
      events.map((e) => `${e.stage} ${e.step}/${e.total}`),
      ['text 0/1', 'text 1/1', 'denoise 0/1', 'denoise 1/1', 'decode 0/1', 'decode 1/1'],
      'progress events in order',
    );

    let created = 0;
    let disposed = 0;
    let planned = 0;
    const observer = (): AttentionPlugin<unknown> => {
      created++;
      return {
        planBlock: () => {
          planned++;
          return undefined;
        },
        dispose: () => void disposed++,
      };
    };
    const second = await sd.generate({ ...quick, seed: 99, merge: observer });
    t.ok(Buffer.from(second[0]!.rgb).equals(Buffer.from(first[0]!.rgb)), 'same seed, same bytes (an observing plug-in changes nothing)');
    t.same([created, disposed], [1, 1], 'plug-in created and disposed once');
    t.ok(planned > 0, 'the plug-in saw the attention blocks');
  });

  t.test('random seed, no guidance, a batch of two', async (t) => {
    const r = await sd.generateWithStats({ ...quick, n: 2, guidanceScale: 1 });
    t.ok(Number.isInteger(r.seed) && r.seed >= 0 && r.seed < 2 ** 32, `random seed reported (${r.seed})`);
    t.same(r.images.map((i) => [i.seed, i.index]), [[r.seed, 0], [r.seed, 1]]);
    t.notOk(Buffer.from(r.images[0]!.rgb).equals(Buffer.from(r.images[1]!.rgb)), 'the two images differ');
    t.equal(r.evaluations, 1);
    t.ok(r.timings.totalMs >= r.timings.denoiseMs + r.timings.decodeMs, 'stage timings add up');
  });

  t.test('token merging state is released with the generation', async (t) => {
    await rt.sync();
    const before = rt.pool.stats().liveBytes;
    const [image] = await sd.generate({ ...quick, seed: 5, merge: { method: 'tome', ratio: 0.5 } });
    t.equal(image!.rgb.length, 64 * 64 * 3);
    t.equal(rt.pool.stats().liveBytes, before, 'pool live bytes back to where they were');
  });

  t.test('an f16 VAE on request decodes the same image to within rounding', async (t) => {
    t.equal(sd.info.vaeDType, 'f32', "auto: f32, as the fixture's config says force_upcast");
    if (!rt.features.f16) {
      t.pass('skipped: this device has no shader-f16');
      return;
    }
    const half = await StableDiffusion.load(model, { dtype: 'f32', vaeDType: 'f16', runtime: rt });
    t.teardown(() => half.dispose());
    t.equal(half.info.vaeDType, 'f16');
    const [want] = await sd.generate({ ...quick, seed: 7 });
    const [got] = await half.generate({ ...quick, seed: 7 });
    let worst = 0;
    for (let i = 0; i < want!.rgb.length; i++) worst = Math.max(worst, Math.abs(want!.rgb[i]! - got!.rgb[i]!));
    t.ok(worst <= 2, `8-bit values within ±2 of the f32 decode (max ${worst})`);
  });

  t.test('bad options reject before any GPU work', async (t) => {
    await t.rejects(sd.generate({ ...quick, width: 76 }), /width 76 must be a multiple of 8/);
    await t.rejects(sd.generate({ ...quick, steps: 0 }), /steps must be an integer/);
    await t.rejects(sd.generate({ ...quick, clipSkip: 9 }), /clipSkip/);
    await t.rejects(sd.generate({ ...quick, latents: new Float32Array(3) }), /latents hold 3 values/);
  });

  t.test('an abort after step 1 rejects and frees everything', async (t) => {
    await rt.sync();
    const before = rt.pool.stats().liveBytes;
    const abort = new AbortController();
    const seen: number[] = [];
    const pending = sd.generate({
      ...quick,
      steps: 6,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.stage !== 'denoise') return;
        seen.push(p.step);
        if (p.step === 1) abort.abort();
      },
    });
    await t.rejects(pending, { name: 'AbortError' });
    t.ok(Math.max(...seen) < 6, `stopped early (saw evaluations ${seen.join(', ')})`);
    t.equal(rt.pool.stats().liveBytes, before, 'pool live bytes back to where they were');

    const already = new AbortController();
    already.abort();
    await t.rejects(sd.generate({ ...quick, signal: already.signal }), { name: 'AbortError' }, 'an aborted signal rejects at once');
    t.equal(rt.pool.stats().liveBytes, before);
  });
});

// A CA-ToMe generation reads nothing back inside the denoising loop: its data-dependent merge count
// stays on the GPU. Every host readback goes through Runtime.readBytes, so the test counts its
// calls while the pipeline reports the 'denoise' stage.

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { fromRoot } from '../../runtime/paths.js';
import type { Runtime } from '../../runtime/runtime.js';
import { StableDiffusion, type GenerateOptions } from '../../pipeline/stable-diffusion.js';
import { CaToMePlugin, type CaToMeBlockState } from '../../merge/catome.js';
import type { BlockCall, BlockPlan } from '../../unet/hooks.js';
import type { Tensor } from '../../runtime/tensor.js';

const model = fromRoot('tests', 'fixtures', 'tiny-sd', 'model');

/** CA-ToMe, counting the block calls it merges. */
class CountingCaToMe extends CaToMePlugin {
  plans = 0;

  override planBlock(x: Tensor, call: BlockCall<CaToMeBlockState>): BlockPlan | undefined {
    const plan = super.planBlock(x, call);
    if (plan) this.plans++;
    return plan;
  }
}

t.setTimeout(900_000);

t.test('CA-ToMe: no host readback inside the denoising loop', async (t) => {
  const rt = await testRuntime();
  const sd = await StableDiffusion.load(model, { dtype: 'f32', runtime: rt });
  t.teardown(() => sd.dispose());

  let stage = '';
  let loopReads = 0;
  let reads = 0;
  const readBytes = rt.readBytes.bind(rt);
  rt.readBytes = (...args: Parameters<Runtime['readBytes']>) => {
    reads++;
    if (stage === 'denoise') loopReads++;
    return readBytes(...args);
  };
  t.teardown(() => void (rt.readBytes = readBytes));

  let plugin: CountingCaToMe | null = null;
  const merge = (r: Runtime) => (plugin = new CountingCaToMe(r, { threshold: 0.5, checkpoints: [0, 2], useRand: false }));
  // 64×64: 8×8 latents, so the full-resolution blocks (64 tokens) merge; 4 evaluations under CFG,
  // checkpoints 0 and 2 recount r on the GPU, 1 and 3 reuse it
  const options: GenerateOptions = { prompt: 'a red cube on a table', width: 64, height: 64, steps: 4, scheduler: 'ddim', seed: 7 };
  const [merged] = await sd.generate({ ...options, merge, onProgress: (p) => void (stage = p.stage) });
  stage = '';
  t.ok(plugin, 'the plug-in ran');
  t.notOk('resolveMergeCounts' in plugin!, 'the plug-in has no readback to await');
  t.ok(plugin!.plans > 0, `${plugin!.plans} merging block calls`);
  t.equal(loopReads, 0, 'no readback while denoising');
  t.ok(reads > 0, `the instrumented path sees the decoded image's readback (${reads})`);
  const [plain] = await sd.generate(options);
  t.notOk(Buffer.from(merged!.rgb).equals(Buffer.from(plain!.rgb)), 'merging changed the image');
});

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import type { DType } from '../../runtime/dtype.js';
import { fromRoot } from '../../runtime/paths.js';
import type { Runtime } from '../../runtime/runtime.js';
import { SafetensorsFile } from '../../runtime/safetensors.js';
import type { Tensor } from '../../runtime/tensor.js';
import {
  alphasCumprod,
  createScheduler,
  loadSchedulerConfig,
  resolveSchedulerConfig,
  type Scheduler,
  type SchedulerKind,
} from '../../scheduler/index.js';

// diffusers runs recorded by the fixture generator: init_sample and every step's U-Net input,
// noise prediction and resulting sample. The model outputs are fed back in; the samples must come
// from our own chained GPU steps.
const TOLERANCE = 1e-5;
/** f16 latents and history against the f32 reference: storage rounding accumulates over the chain. */
const F16_TOLERANCE = 1e-2;
const GOLDEN: readonly [string, SchedulerKind][] = [
  ['pndm_plms', 'plms'],
  ['ddim', 'ddim'],
  ['euler', 'euler'],
  ['dpmpp_2m', 'dpmpp-2m'],
];
const golden = (name: string): string => fromRoot('tests', 'fixtures', 'tiny-sd', 'golden', `scheduler_${name}.safetensors`);

interface ChainErrors {
  /** Largest maxRelError of scaleModelInput against step{i}.model_input, and the step. */
  readonly input: { readonly err: number; readonly step: number };
  /** Largest maxRelError of step() against step{i}.prev_sample, and the step. */
  readonly sample: { readonly err: number; readonly step: number };
}

/** Runs the whole chain on the GPU (recorded first, read back after) and compares every step. */
async function runChain(rt: Runtime, file: SafetensorsFile, scheduler: Scheduler, dtype: DType): Promise<ChainErrors> {
  const shape = file.entry('init_sample').shape;
  const inputs: Tensor[] = [];
  const samples: Tensor[] = [];
  const initial = rt.upload(await file.readFloat32('init_sample'), shape, dtype);
  let sample = initial;
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    const noise = await file.readFloat32(`step${i}.model_output`);
    // as in a pipeline, each step runs in a tidy scope that frees the U-Net output: the scheduler's
    // history must survive it
    const current = sample;
    const [input, next] = rt.tidy(() => {
      const eps = rt.upload(noise, shape, dtype);
      return [scheduler.scaleModelInput(rt, current, i), scheduler.step(rt, eps, i, current)];
    });
    inputs.push(input!);
    samples.push(next!);
    sample = next!;
  }
  scheduler.dispose();

  let input = { err: 0, step: 0 };
  let prev = { err: 0, step: 0 };
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    const inputErr = maxRelError(await rt.read(inputs[i]!), await file.readFloat32(`step${i}.model_input`));
    const sampleErr = maxRelError(await rt.read(samples[i]!), await file.readFloat32(`step${i}.prev_sample`));
    if (inputErr > input.err) input = { err: inputErr, step: i };
    if (sampleErr > prev.err) prev = { err: sampleErr, step: i };
  }
  for (const x of new Set([initial, ...inputs, ...samples])) x.dispose();
  return { input, sample: prev };
}

t.test('alphas_cumprod is bit-exact with torch', async (t) => {
  const file = await SafetensorsFile.open(golden('ddim_50'));
  const want = await file.readFloat32('alphas_cumprod');
  await file.close();
  const config = resolveSchedulerConfig(await loadSchedulerConfig(fromRoot('tests', 'fixtures', 'tiny-sd', 'model', 'scheduler', 'scheduler_config.json')));
  const got = alphasCumprod(config);
  let mismatches = 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
  t.equal(got.length, 1000);
  t.equal(mismatches, 0, 'every entry equal');
});

for (const [name, kind] of GOLDEN) {
  for (const steps of [50, 20]) {
    t.test(`${kind} ${steps} steps follows diffusers`, async (t) => {
      const rt = await testRuntime();
      const file = await SafetensorsFile.open(golden(`${name}_${steps}`));
      const scheduler = createScheduler(kind, steps);
      t.same(scheduler.timesteps, Array.from(await file.readFloat32('timesteps')), 'timesteps');

      if (kind === 'euler') {
        // the generator scaled the DDIM run's N(0, 1) latents by init_noise_sigma
        const plain = await SafetensorsFile.open(golden(`ddim_${steps}`));
        const noise = await plain.readFloat32('init_sample');
        await plain.close();
        const scaled = noise.map((x) => x * scheduler.initNoiseSigma);
        t.ok(maxRelError(scaled, await file.readFloat32('init_sample')) <= 1e-7, `init_noise_sigma ${scheduler.initNoiseSigma}`);
      } else {
        t.equal(scheduler.initNoiseSigma, 1, 'init_noise_sigma');
      }

      const { input, sample } = await runChain(rt, file, scheduler, 'f32');
      await file.close();
      t.ok(input.err <= TOLERANCE, `model_input max rel error ${input.err.toExponential(2)} (step ${input.step})`);
      t.ok(sample.err <= TOLERANCE, `prev_sample max rel error ${sample.err.toExponential(2)} (step ${sample.step})`);
    });
  }
}

t.test('f16 latents and history stay close to the f32 reference', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('skipped: no shader-f16');
    return;
  }
  for (const [name, kind] of GOLDEN) {
    const file = await SafetensorsFile.open(golden(`${name}_20`));
    const { input, sample } = await runChain(rt, file, createScheduler(kind, 20), 'f16');
    await file.close();
    t.ok(input.err <= F16_TOLERANCE && sample.err <= F16_TOLERANCE, `${kind} f16: input ${input.err.toExponential(2)}, sample ${sample.err.toExponential(2)}`);
  }
});

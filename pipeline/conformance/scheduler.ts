// Scheduler conformance, for each golden scheduler_<kind>_<steps> run diffusers recorded: the
// timesteps (and sigmas), alphas_cumprod, and the whole chain stepped on the GPU from init_sample
// with the recorded noise predictions fed back in, every U-Net input and next sample compared.

import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { Tensor } from '../../runtime/tensor.js';
import {
  alphasCumprod,
  createScheduler,
  resolveSchedulerConfig,
  schedulerConfigFromJson,
  SCHEDULER_KINDS,
  type Scheduler,
  type SchedulerKind,
} from '../../scheduler/index.js';
import type { GoldenFile } from './golden.js';
import { maxRelError } from './metrics.js';
import { SCHEDULER_TOLERANCE, type ConformancePart, type PartContext } from './types.js';

const GOLDEN = /^scheduler_(.+)_(\d+)$/;

/**
 * The scheduler kind a golden name stands for: `scheduler_dpmpp_2m_20` → dpmpp-2m, and for names
 * that add the diffusers class (`scheduler_pndm_plms_50`) the longest known suffix → plms.
 */
export function schedulerKindOf(goldenName: string): { kind: SchedulerKind; steps: number } | null {
  const m = GOLDEN.exec(goldenName);
  if (!m) return null;
  const words = m[1]!.split('_');
  for (let i = 0; i < words.length; i++) {
    const candidate = words.slice(i).join('-');
    if ((SCHEDULER_KINDS as readonly string[]).includes(candidate)) return { kind: candidate as SchedulerKind, steps: Number(m[2]) };
  }
  return null;
}

export const schedulerPart: ConformancePart = {
  name: 'scheduler',
  description: 'PLMS/DDIM/Euler/DPM-Solver++ timesteps, sigmas, alphas_cumprod and step chains against diffusers',
  claims: (file) => GOLDEN.test(file),
  async run(ctx: PartContext): Promise<void> {
    for (const name of ctx.golden.files.filter((f) => GOLDEN.test(f))) {
      const what = schedulerKindOf(name);
      if (!what) {
        ctx.skip(name, `no scheduler of this runtime matches the name (known: ${SCHEDULER_KINDS.join(', ')})`);
        continue;
      }
      try {
        await checkRun(ctx, name, what.kind, what.steps);
      } catch (e) {
        ctx.fail(name, (e as Error).message);
      }
    }
  },
};

async function checkRun(ctx: PartContext, name: string, kind: SchedulerKind, steps: number): Promise<void> {
  const golden = await ctx.golden.open(name);
  const json = ctx.golden.section(name)?.['config'] ?? (await ctx.folder()).scheduler.config;
  const partial = schedulerConfigFromJson(json, `golden/index.json ${name}.config`);
  const scheduler = createScheduler(kind, steps, partial);
  const bar = SCHEDULER_TOLERANCE.f32;
  const host = (label: string, got: ArrayLike<number>, want: Float32Array): void => {
    const note = got.length !== want.length ? `${got.length} values for ${want.length}` : undefined;
    ctx.check({ name: `${name} ${label}`, metric: 'max rel error', error: maxRelError(got, want), bar, note });
  };
  if (golden.has('timesteps')) host('timesteps', scheduler.timesteps, await golden.floats('timesteps'));
  const sigmas = (scheduler as Scheduler & { sigmas?: unknown }).sigmas;
  if (golden.has('sigmas') && sigmas instanceof Float32Array) host('sigmas', sigmas, await golden.floats('sigmas'));
  if (golden.has('alphas_cumprod')) host('alphas_cumprod', alphasCumprod(resolveSchedulerConfig(partial)), await golden.floats('alphas_cumprod'));
  if (golden.has('init_sample')) await checkChain(ctx, name, golden, scheduler);
  else scheduler.dispose();
}

/** Steps the whole chain on the GPU (recorded first, read back after), as the pipeline would. */
async function checkChain(ctx: PartContext, name: string, golden: GoldenFile, scheduler: Scheduler): Promise<void> {
  const { rt, dtype } = ctx;
  const evaluations = scheduler.timesteps.length;
  const recorded = golden.tensors().filter((n) => /^step\d+\.prev_sample$/.test(n)).length;
  if (recorded !== evaluations) {
    scheduler.dispose();
    ctx.fail(`${name} chain`, `diffusers recorded ${recorded} steps, this scheduler takes ${evaluations}`);
    return;
  }
  const shape = golden.shape('init_sample');
  const owned = new Set<Tensor>();
  try {
    const inputs: Tensor[] = [];
    const samples: Tensor[] = [];
    let sample = rt.upload(await golden.floats('init_sample'), shape, dtype);
    owned.add(sample);
    for (let i = 0; i < evaluations; i++) {
      const noise = await golden.floats(`step${i}.model_output`);
      const current = sample;
      // each step in its own tidy scope, as in the pipeline: the scheduler's history must survive it
      const [input, next] = rt.tidy(() => {
        const eps = rt.upload(noise, shape, dtype);
        return [scheduler.scaleModelInput(rt, current, i), scheduler.step(rt, eps, i, current)];
      });
      for (const t of [input!, next!]) owned.add(t);
      inputs.push(input!);
      samples.push(next!);
      sample = next!;
    }
    const bar = SCHEDULER_TOLERANCE[dtype];
    await chainCheck(ctx, rt, golden, `${name} model_input`, inputs, 'model_input', bar, dtype);
    await chainCheck(ctx, rt, golden, `${name} prev_sample`, samples, 'prev_sample', bar, dtype);
  } finally {
    scheduler.dispose();
    for (const t of owned) t.dispose();
  }
}

async function chainCheck(
  ctx: PartContext,
  rt: Runtime,
  golden: GoldenFile,
  label: string,
  got: readonly Tensor[],
  tensor: string,
  bar: number,
  dtype: FloatDType,
): Promise<void> {
  let worst = 0;
  let at = 0;
  for (let i = 0; i < got.length; i++) {
    const err = maxRelError(await rt.read(got[i]!), await golden.floats(`step${i}.${tensor}`));
    if (err > worst) [worst, at] = [err, i];
  }
  ctx.check({ name: `${label} (${got.length} steps, ${dtype})`, metric: 'max rel error', error: worst, bar, note: `worst at step ${at}` });
}

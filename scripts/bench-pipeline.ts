// End-to-end benchmark: seconds per image split by stage, U-Net time per evaluation and achieved
// TFLOP/s, peak host RSS. The GPU is synced at stage boundaries only; the scheduler's share of the
// loop is timed by running the same scheduler alone on tensors of the same size, and --profile
// instead syncs after every U-Net pass and scheduler step (exact split, a little slower overall).
import { Runtime } from '../runtime/runtime.js';
import { StableDiffusion, type GenerateOptions, type GenerationResult } from '../pipeline/stable-diffusion.js';
import { TorchGenerator } from '../pipeline/torch-generator.js';
import { ProgressReporter } from '../pipeline/progress.js';
import { createScheduler, type SchedulerConfig, type SchedulerKind } from '../scheduler/index.js';
import { unetFlops } from '../unet/flops.js';
import { isMergeKernel, totalsByFamily, type FamilyTotal } from '../runtime/profiler.js';
import { TokenMapRecorder } from '../merge/token-map-recorder.js';
import { mergedFraction } from '../merge/token-map-metrics.js';
import { createMergePlugin, type MergeOptions } from '../merge/index.js';
import { Cli, runScript } from './cli.js';
import { BUNDLED_MODEL_NOTICE, loadOptions, MERGE_OPTIONS, mergeOptions, MODEL_OPTIONS, modelPath, SAMPLING_OPTIONS, samplingSettings } from './pipeline-options.js';

const cli = new Cli({
  name: 'bench-pipeline',
  usage: 'node scripts/bench-pipeline.js [--model DIR|FILE] [--width N --height N] [--steps N] [--n N] [--runs N] [--merge METHOD] [--json] [--profile]',
  description:
    'Times whole generations: a warm-up, then several runs; prints median and min seconds per image split by stage ' +
    '(text, U-Net, scheduler, decode), U-Net ms per evaluation and TFLOP/s (dense FLOPs from the architecture), peak host RSS.',
  options: {
    ...MODEL_OPTIONS,
    ...SAMPLING_OPTIONS,
    ...MERGE_OPTIONS,
    prompt: { type: 'string', default: 'a photograph of an astronaut riding a horse', description: 'the prompt' },
    seed: { type: 'integer', default: 1234, min: 0, description: 'seed of every run' },
    runs: { type: 'integer', default: 3, min: 1, description: 'measured runs' },
    warmup: { type: 'integer', default: 1, min: 0, description: 'runs before measuring (shader compilation, pool growth)' },
    profile: { type: 'boolean', description: 'sync after every U-Net pass and scheduler step to time them apart' },
    'kernel-profile': { type: 'boolean', description: 'one extra run timing every kernel on the GPU (timestamp queries): time per kernel family and the token-merging share' },
    json: { type: 'boolean', description: 'one JSON object instead of the table' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress output' },
  },
});

interface RunFigures {
  readonly perImageS: number;
  /** Host milliseconds recording one U-Net evaluation (and its scheduler step). */
  readonly recordMsPerEvaluation: number;
  /** Bind groups created per evaluation (whole generation): the rest were found in the cache. */
  readonly bindGroupsPerEvaluation: number;
  readonly textS: number;
  readonly unetS: number;
  readonly schedulerS: number;
  readonly decodeS: number;
}

await runScript(cli, async ({ values }) => {
  const merge = mergeOptions(values);
  const model = modelPath(values);
  const log = (line: string) => {
    if (!values.json) process.stderr.write(`${line}\n`);
  };
  if (model.bundled) log(BUNDLED_MODEL_NOTICE);
  const reporter = values.quiet || values.json ? null : new ProgressReporter();
  const load = loadOptions(values);
  const runtime = await Runtime.create(load.gpu);
  const loadStart = performance.now();
  let sd: StableDiffusion;
  try {
    sd = await StableDiffusion.load(model.path, { ...load, runtime, onProgress: reporter?.update });
  } catch (e) {
    runtime.destroy();
    throw e;
  }
  const loadS = (performance.now() - loadStart) / 1000;
  try {
    const options: GenerateOptions = {
      prompt: values.prompt,
      ...samplingSettings(values),
      n: values.n,
      seed: values.seed,
      merge,
      profile: values.profile,
    };
    const settings = sd.resolve(options);
    log(`${runtime.describe()}\nmodel ${sd.info.path} (${sd.dtype}, VAE ${sd.info.vaeDType}), loaded in ${loadS.toFixed(2)} s`);
    log(`${settings.n} image(s) ${settings.width}x${settings.height}, ${settings.steps} ${settings.scheduler} steps, guidance ${settings.guidanceScale}, merge ${values.merge}`);

    for (let i = 0; i < values.warmup; i++) {
      log(`warm-up ${i + 1}/${values.warmup}`);
      await sd.generateWithStats({ ...options, onProgress: reporter?.update });
    }
    const guided = settings.guidanceScale > 1;
    const latentShape = [settings.n, sd.info.unet.inChannels, settings.height / sd.vaeScale, settings.width / sd.vaeScale];
    const runs: RunFigures[] = [];
    let last: GenerationResult | null = null;
    for (let i = 0; i < values.runs; i++) {
      log(`run ${i + 1}/${values.runs}`);
      const bindGroupsBefore = runtime.bindGroupsCreated;
      const r = await sd.generateWithStats({ ...options, onProgress: reporter?.update });
      const bindGroups = runtime.bindGroupsCreated - bindGroupsBefore;
      const t = r.timings;
      const schedulerMs = t.schedulerMs ?? (await timeSchedulerAlone(runtime, settings.scheduler, settings.steps, sd.schedulerConfig, latentShape));
      const unetMs = t.unetMs ?? t.denoiseMs - schedulerMs;
      const n = r.images.length;
      runs.push({ recordMsPerEvaluation: t.recordMs / r.evaluations, bindGroupsPerEvaluation: bindGroups / r.evaluations, perImageS: t.totalMs / 1000 / n, textS: t.textMs / 1000 / n, unetS: unetMs / 1000 / n, schedulerS: schedulerMs / 1000 / n, decodeS: t.decodeMs / 1000 / n });
      last = r;
    }
    const evaluations = last!.evaluations;
    const flops = unetFlops(sd.info.unet, {
      batch: (guided ? 2 : 1) * settings.n,
      latentHeight: latentShape[2]!,
      latentWidth: latentShape[3]!,
      contextTokens: sd.info.textEncoder.maxPositions,
    });
    const median = (f: (r: RunFigures) => number) => medianOf(runs.map(f));
    const unetEvalMs = (median((r) => r.unetS) * settings.n * 1000) / evaluations;
    const tflops = flops.total / (unetEvalMs / 1000) / 1e12;
    const kernels = values['kernel-profile'] ? await profileKernels(runtime, sd, options, merge, log) : null;
    const rssBytes = process.resourceUsage().maxRSS * 1024;
    const pool = runtime.pool.stats();
    const report = {
      device: runtime.describe(),
      model: sd.info.path,
      dtype: sd.dtype,
      vaeDType: sd.info.vaeDType,
      width: settings.width,
      height: settings.height,
      n: settings.n,
      steps: settings.steps,
      scheduler: settings.scheduler,
      evaluations,
      guidance: settings.guidanceScale,
      merge: options.merge ?? { method: 'none' },
      runs: runs.length,
      profile: values.profile,
      loadS: round(loadS),
      perImageS: { median: round(median((r) => r.perImageS)), min: round(Math.min(...runs.map((r) => r.perImageS))) },
      stagesPerImageS: {
        text: round(median((r) => r.textS)),
        unet: round(median((r) => r.unetS)),
        scheduler: round(median((r) => r.schedulerS)),
        decode: round(median((r) => r.decodeS)),
      },
      unetMsPerEvaluation: round(unetEvalMs),
      recordMsPerEvaluation: round(median((r) => r.recordMsPerEvaluation)),
      bindGroupsPerEvaluation: round(median((r) => r.bindGroupsPerEvaluation)),
      unetGflopPerEvaluation: round(flops.total / 1e9),
      unetTflops: round(tflops),
      peakRssMiB: round(rssBytes / 2 ** 20),
      gpuPoolPeakMiB: round(pool.peakBytes / 2 ** 20),
      runsPerImageS: runs.map((r) => round(r.perImageS)),
      ...(kernels && { kernelProfile: kernels }),
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const s = report.stagesPerImageS;
    const lines = [
      `per image: median ${report.perImageS.median} s, min ${report.perImageS.min} s over ${runs.length} run(s)`,
      `  text ${s.text} s | U-Net ${s.unet} s | scheduler ${s.scheduler} s | decode ${s.decode} s   (median per image${values.profile ? ', profiled' : ''})`,
      `U-Net: ${report.unetMsPerEvaluation} ms per evaluation (batch ${(guided ? 2 : 1) * settings.n}, ${evaluations} evaluations), ` +
        `${report.unetGflopPerEvaluation} GFLOP each, ${report.unetTflops} TFLOP/s${options.merge ? ' (dense FLOPs: effective rate with merging)' : ''}`,
      `host recording: ${report.recordMsPerEvaluation} ms per evaluation (overlaps the GPU; the loop is CPU-bound when it nears the U-Net time), ` +
        `${report.bindGroupsPerEvaluation} bind groups created per evaluation`,
      `peak host RSS ${report.peakRssMiB} MiB, GPU pool peak ${report.gpuPoolPeakMiB} MiB`,
    ];
    if (kernels) lines.push(...kernelProfileLines(kernels, settings.n));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    sd.dispose();
    runtime.destroy();
  }
});

interface KernelProfile {
  /** GPU milliseconds of every kernel of one generation (all images). */
  readonly totalMs: number;
  /** Token-merging kernels' share of totalMs. */
  readonly mergeMs: number;
  readonly mergeFraction: number;
  /** Tokens merged away over the block calls that merged, averaged (null without merging). */
  readonly mergedTokenFraction: number | null;
  readonly families: readonly FamilyTotal[];
}

/**
 * One generation with every dispatch timed on the GPU, summed per kernel family; with merging, the
 * blocks' token maps are also read back after each evaluation for the merged fraction (that run
 * waits for the GPU at every step, which is why it is not one of the timed runs).
 */
async function profileKernels(
  rt: Runtime,
  sd: StableDiffusion,
  options: GenerateOptions,
  method: MergeOptions | undefined,
  log: (line: string) => void,
): Promise<KernelProfile> {
  log('kernel profile run');
  let recorder: TokenMapRecorder | null = null;
  let merged = 0;
  let calls = 0;
  // before the generation starts: it records its first kernels synchronously
  rt.startProfile();
  const run = method
    ? sd.generateWithStats({
        ...options,
        merge: (r) => (recorder = new TokenMapRecorder(r, createMergePlugin(r, method))),
        onStep: async (step) => {
          if (step < 0 || !recorder) return;
          for (const evaluation of await recorder.read()) {
            for (const map of evaluation.maps) {
              merged += mergedFraction(map.rows, map.batch);
              calls++;
            }
          }
        },
      })
    : sd.generateWithStats(options);
  const failure = await run.then(
    () => null,
    (e: unknown) => e,
  );
  const times = await rt.stopProfile();
  if (failure) throw failure;
  const families = totalsByFamily(times).map((f) => ({ ...f, ms: round(f.ms) }));
  const totalMs = times.reduce((s, t) => s + t.ns, 0) / 1e6;
  const mergeMs = families.filter((f) => isMergeKernel(f.family)).reduce((s, f) => s + f.ms, 0);
  return {
    totalMs: round(totalMs),
    mergeMs: round(mergeMs),
    mergeFraction: round(totalMs > 0 ? mergeMs / totalMs : 0),
    mergedTokenFraction: method ? round(calls > 0 ? merged / calls : 0) : null,
    families,
  };
}

function kernelProfileLines(k: KernelProfile, images: number): string[] {
  const pct = (ms: number) => `${((100 * ms) / k.totalMs).toFixed(1)}%`;
  const fraction = k.mergedTokenFraction === null ? '' : `; tokens merged away ${(100 * k.mergedTokenFraction).toFixed(1)}% (mean over the block calls that merged)`;
  return [
    `kernel profile (GPU time of one generation, one pass per kernel): ${k.totalMs} ms, ${round(k.totalMs / images)} ms per image; ` +
      `token-merging kernels ${k.mergeMs} ms (${pct(k.mergeMs)})${fraction}`,
    ...k.families.slice(0, 20).map((f) => `  ${f.family.padEnd(28)} ${String(f.ms).padStart(9)} ms ${pct(f.ms).padStart(6)}  ${f.calls} calls`),
  ];
}

/**
 * The scheduler's part of the loop: every step of the same scheduler on latents of the same shape,
 * with a fixed noise prediction, between two syncs.
 */
async function timeSchedulerAlone(rt: Runtime, kind: SchedulerKind, steps: number, config: Partial<SchedulerConfig>, shape: number[]): Promise<number> {
  const scheduler = createScheduler(kind, steps, config);
  const generator = new TorchGenerator(0);
  const latents = rt.upload(generator.randn(shape), shape, 'f32');
  const eps = rt.upload(generator.randn(shape), shape, 'f32');
  let x = latents;
  try {
    await rt.sync();
    const start = performance.now();
    for (let i = 0; i < scheduler.timesteps.length; i++) {
      const current = x;
      const next = rt.tidy(() => {
        scheduler.scaleModelInput(rt, current, i);
        return scheduler.step(rt, eps, i, current);
      });
      if (current !== latents) current.dispose();
      x = next;
    }
    await rt.sync();
    return performance.now() - start;
  } finally {
    if (x !== latents) x.dispose();
    latents.dispose();
    eps.dispose();
    scheduler.dispose();
  }
}

function medianOf(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function round(v: number): number {
  return Number(v.toPrecision(4));
}

// Command-line options the pipeline scripts (txt2img, bench-pipeline) share: which model, how to
// load it, the sampler and token merging; and turning them into load and generate options.

import { existsSync } from 'node:fs';
import { fromRoot } from '../runtime/paths.js';
import { SCHEDULER_KINDS } from '../scheduler/types.js';
import { MERGE_METHODS, type MergeOptions } from '../pipeline/merge.js';
import { CA_TOME_SCHEDULES, type CaToMeSchedule } from '../merge/schedules.js';
import { StableDiffusion, type GenerateOptions, type ResolvedSettings, type StableDiffusionLoadOptions } from '../pipeline/stable-diffusion.js';
import { AbortError } from '../pipeline/generate.js';
import type { ProgressReporter } from '../pipeline/progress.js';
import { ScriptError, UsageError, type CliValues, type OptionSpec } from './cli.js';

/** The tiny random-weight model the tests use; the scripts run on it when no --model is given. */
export const BUNDLED_MODEL = fromRoot('tests', 'fixtures', 'tiny-sd', 'model');

export const BUNDLED_MODEL_NOTICE =
  'using the bundled tiny test model (random weights: the image is noise); pass --model DIR|FILE for a real ' +
  'SD 1.5 checkpoint (a diffusers folder, or a .safetensors file with --tokenizer DIR or --config-from DIR)';

export const MODEL_OPTIONS = {
  model: {
    type: 'string',
    valueName: 'DIR|FILE',
    description: 'a diffusers folder or a single-file .safetensors checkpoint (default: the bundled tiny test model)',
  },
  tokenizer: { type: 'string', valueName: 'DIR', description: 'CLIP tokenizer folder (single files bundle none)' },
  'config-from': {
    type: 'string',
    valueName: 'DIR',
    description: 'single files: a diffusers folder to take configs, tokenizer and scheduler from',
  },
  dtype: { type: 'choice', choices: ['auto', 'f16', 'f32'], default: 'auto', description: 'U-Net and text encoder storage type' },
  'vae-dtype': {
    type: 'choice',
    choices: ['auto', 'f16', 'f32'],
    default: 'auto',
    description: "VAE storage type; auto: f32 where its config says force_upcast (SD 1.5's does); f16 takes half the memory",
  },
  plain: { type: 'boolean', description: 'portable GPU path: no f16, no subgroup matrices' },
} as const satisfies Readonly<Record<string, OptionSpec>>;

export const SAMPLING_OPTIONS = {
  steps: { type: 'integer', default: 50, min: 1, max: 1000, description: 'inference steps' },
  guidance: { type: 'number', default: 7.5, min: 0, description: 'classifier-free guidance scale (≤ 1: off)' },
  scheduler: { type: 'choice', choices: SCHEDULER_KINDS, default: 'plms', description: 'sampler' },
  width: { type: 'integer', min: 8, multipleOf: 8, description: 'image width in pixels (default: the model\'s, 512 for SD 1.5)' },
  height: { type: 'integer', min: 8, multipleOf: 8, description: 'image height in pixels (default: the model\'s)' },
  n: { type: 'integer', default: 1, min: 1, max: 64, description: 'images per batch' },
  'clip-skip': { type: 'integer', default: 1, min: 1, description: 'use the text encoder layer this many from the end' },
} as const satisfies Readonly<Record<string, OptionSpec>>;

export const MERGE_OPTIONS = {
  merge: { type: 'choice', choices: MERGE_METHODS, default: 'none', description: 'token merging method' },
  'merge-ratio': { type: 'number', min: 0, max: 1, description: 'tome, importance, toma: fraction of tokens merged away, default 0.5' },
  'merge-threshold': { type: 'number', description: 'catome: cosine similarity a token needs to be merged, default 0.7' },
  'merge-schedule': {
    type: 'string',
    valueName: 'NAME|LIST',
    description: `catome: evaluations that recompute the pairs, a preset (${Object.keys(CA_TOME_SCHEDULES).join(', ')}) or a list like 0,5,10, default CONFIG_3`,
  },
  'merge-max-downsample': { type: 'integer', min: 1, description: 'merge only in blocks downsampled at most this much, default 1' },
  'merge-no-rand': { type: 'boolean', description: 'tome, catome, importance: top-left destination of each 2×2 cell instead of a random one (tomesd use_rand=False)' },
  'merge-seed': { type: 'integer', min: 0, max: 2 ** 31 - 1, description: 'tome, catome, importance: seed of the random destinations, default 0' },
  'merge-cross-attn': { type: 'boolean', description: 'tome, catome, importance: also merge around cross-attention' },
  'merge-mlp': { type: 'boolean', description: 'also merge around the feed-forward' },
  'merge-similarity': {
    type: 'choice',
    choices: ['fast', 'exact'],
    description: "tome, catome, importance: 'fast' f16 similarities on tensor cores where present (as tomesd on an fp16 model), 'exact' f32; default fast",
  },
  'merge-pool': { type: 'number', min: 0, max: 1, description: 'importance: fraction of tokens in the important pool, default 0.75' },
  'merge-dst': { type: 'number', min: 0, max: 1, description: 'importance: fraction of tokens drawn as destinations, default 0.25' },
  'merge-tiles': { type: 'integer', min: 1, description: 'toma: tiles the token grid is cut into, default 256' },
  'merge-interval': { type: 'integer', min: 1, description: 'toma: evaluations an assignment is reused for, default 3' },
} as const satisfies Readonly<Record<string, OptionSpec>>;

type MergeFlag = Exclude<keyof typeof MERGE_OPTIONS, 'merge'>;

/** The option each flag sets in merge/'s method options. */
const MERGE_KEYS: Readonly<Record<MergeFlag, string>> = {
  'merge-ratio': 'ratio',
  'merge-threshold': 'threshold',
  'merge-schedule': 'checkpoints',
  'merge-max-downsample': 'maxDownsample',
  'merge-no-rand': 'useRand',
  'merge-seed': 'seed',
  'merge-cross-attn': 'mergeCrossAttn',
  'merge-mlp': 'mergeMlp',
  'merge-similarity': 'similarity',
  'merge-pool': 'poolFraction',
  'merge-dst': 'dstFraction',
  'merge-tiles': 'tiles',
  'merge-interval': 'recomputeInterval',
};

const TOMESD_FLAGS: readonly MergeFlag[] = ['merge-max-downsample', 'merge-no-rand', 'merge-seed', 'merge-cross-attn', 'merge-mlp', 'merge-similarity'];

/** The flags each method takes (its options in merge/index.ts). */
const MERGE_FLAGS: Readonly<Record<string, readonly MergeFlag[]>> = {
  tome: ['merge-ratio', ...TOMESD_FLAGS],
  catome: ['merge-threshold', 'merge-schedule', ...TOMESD_FLAGS],
  importance: ['merge-ratio', 'merge-pool', 'merge-dst', ...TOMESD_FLAGS],
  toma: ['merge-ratio', 'merge-tiles', 'merge-interval', 'merge-max-downsample', 'merge-mlp'],
};

type ModelValues = CliValues<typeof MODEL_OPTIONS>;
type SamplingValues = Omit<CliValues<typeof SAMPLING_OPTIONS>, 'n'>;
type MergeValues = CliValues<typeof MERGE_OPTIONS>;

/** The model path to load, and whether it is the bundled test model; a ScriptError if it is missing. */
export function modelPath(values: Pick<ModelValues, 'model'>): { path: string; bundled: boolean } {
  if (values.model !== undefined) {
    if (!existsSync(values.model)) throw new ScriptError(`model ${values.model} does not exist (pass a diffusers folder or a .safetensors file)`);
    return { path: values.model, bundled: false };
  }
  if (!existsSync(BUNDLED_MODEL)) {
    throw new ScriptError(`the bundled test model is not unpacked at ${BUNDLED_MODEL}: run node scripts/unpack-fixtures.js, or pass --model`);
  }
  return { path: BUNDLED_MODEL, bundled: true };
}

export function loadOptions(values: ModelValues): StableDiffusionLoadOptions {
  return {
    dtype: values.dtype,
    vaeDType: values['vae-dtype'],
    gpu: values.plain ? { plain: true } : undefined,
    tokenizerDir: values.tokenizer,
    configFrom: values['config-from'],
  };
}

/** The generation settings the sampling options give (every script's --n is its own business). */
export function samplingSettings(values: SamplingValues): Pick<GenerateOptions, 'steps' | 'guidanceScale' | 'scheduler' | 'width' | 'height' | 'clipSkip'> {
  return {
    steps: values.steps,
    guidanceScale: values.guidance,
    scheduler: values.scheduler,
    width: values.width,
    height: values.height,
    clipSkip: values['clip-skip'],
  };
}

/** The merge options for the pipeline, or undefined when nothing merges; UsageError for flags that do not fit. */
export function mergeOptions(values: MergeValues): MergeOptions | undefined {
  const given = (Object.keys(MERGE_KEYS) as MergeFlag[]).filter((k) => values[k] !== undefined && values[k] !== false);
  const method: string = values.merge;
  if (method === 'none') {
    if (given.length > 0) throw new UsageError(`--${given[0]} needs --merge METHOD`);
    return undefined;
  }
  const flags = MERGE_FLAGS[method];
  if (!flags) throw new ScriptError(`--merge ${method} is not wired into the command line yet (use the API's merge option)`);
  const options: Record<string, unknown> = { method };
  for (const flag of given) {
    if (!flags.includes(flag)) throw new UsageError(`--${flag} does not apply to --merge ${method}`);
    const value = values[flag];
    options[MERGE_KEYS[flag]] =
      flag === 'merge-no-rand' ? false : flag === 'merge-schedule' ? parseSchedule(String(value)) : value;
  }
  // merge/'s factory validates the values; the flag table above keeps the keys those of the method
  return options as unknown as MergeOptions;
}

/** A CA-ToMe preset name or a comma-separated list of evaluation indices. */
function parseSchedule(text: string): CaToMeSchedule | number[] {
  if (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(text)) return text.split(',').map((v) => Number(v.trim()));
  if (Object.hasOwn(CA_TOME_SCHEDULES, text)) return text as CaToMeSchedule;
  throw new UsageError(`--merge-schedule must be one of ${Object.keys(CA_TOME_SCHEDULES).join(', ')} or a list like 0,5,10, got ${JSON.stringify(text)}`);
}

/** Loads the model for a generating script, with load progress on the reporter when there is one. */
export function loadModel(path: string, values: ModelValues, reporter: ProgressReporter | null): Promise<StableDiffusion> {
  return StableDiffusion.load(path, { ...loadOptions(values), onProgress: reporter?.update }).finally(() => reporter?.endLine());
}

/** Ctrl-C as the abort signal of a generation; release() once the script is done generating. */
export function interruptOnSigint(): { readonly signal: AbortSignal; release(): void } {
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  return { signal: abort.signal, release: () => process.off('SIGINT', onSigint) };
}

/** sd.resolve(options), its complaint about the settings reported as a usage error. */
export function resolveSettings(sd: StableDiffusion, options: GenerateOptions): ResolvedSettings {
  try {
    return sd.resolve(options);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^StableDiffusion: /, ''));
  }
}

/** Awaits generation work; an interrupt becomes "nothing written" with exit code 130. */
export async function untilInterrupted<T>(work: () => Promise<T>, reporter: ProgressReporter | null): Promise<T> {
  try {
    return await work();
  } catch (e) {
    reporter?.endLine();
    if (e instanceof AbortError) throw new ScriptError('interrupted: nothing written', 130);
    throw e;
  }
}

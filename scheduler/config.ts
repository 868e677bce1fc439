// The noise-schedule settings every scheduler shares, read from a diffusers scheduler_config.json.

import { readFile } from 'node:fs/promises';
import type { SchedulerKind } from './types.js';

export type BetaSchedule = 'scaled_linear' | 'linear' | 'squaredcos_cap_v2';
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';

/** A config setting this runtime does not implement, and the schedulers whose math it would change. */
export interface UnsupportedSetting {
  readonly setting: string;
  readonly kinds: readonly SchedulerKind[];
}

export interface SchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
  /** Explicit betas (length numTrainTimesteps) instead of a schedule. */
  readonly trainedBetas: readonly number[] | null;
  readonly stepsOffset: number;
  readonly timestepSpacing: TimestepSpacing;
  /** DDIM/PLMS: the alpha product after the last step is 1 (true) or alphas_cumprod[0] (false). */
  readonly setAlphaToOne: boolean;
  /**
   * Settings from the JSON that are not implemented; createScheduler refuses the kinds they affect
   * (diffusers' from_config ignores a key the target scheduler lacks, so e.g. Karras sigmas in a
   * DPM-Solver config do not stop PLMS).
   */
  readonly unsupported: readonly UnsupportedSetting[];
}

/** Stable Diffusion 1.5's scheduler_config.json. */
export const SD15_SCHEDULER_CONFIG: SchedulerConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  trainedBetas: null,
  stepsOffset: 1,
  timestepSpacing: 'leading',
  setAlphaToOne: false,
  unsupported: [],
};

export function resolveSchedulerConfig(partial: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const c = { ...SD15_SCHEDULER_CONFIG, ...stripUndefined(partial) };
  const where = 'scheduler config';
  if (!Number.isInteger(c.numTrainTimesteps) || c.numTrainTimesteps < 2) {
    throw new Error(`${where}: numTrainTimesteps must be an integer ≥ 2, got ${c.numTrainTimesteps}`);
  }
  if (!Number.isInteger(c.stepsOffset) || c.stepsOffset < 0) {
    throw new Error(`${where}: stepsOffset must be a non-negative integer, got ${c.stepsOffset}`);
  }
  if (c.trainedBetas && c.trainedBetas.length !== c.numTrainTimesteps) {
    throw new Error(`${where}: ${c.trainedBetas.length} trained betas for ${c.numTrainTimesteps} train timesteps`);
  }
  return c;
}

const ALL: readonly SchedulerKind[] = ['plms', 'ddim', 'euler', 'dpmpp-2m'];
const SIGMA_BASED: readonly SchedulerKind[] = ['euler', 'dpmpp-2m'];

/** diffusers keys whose non-default values this runtime does not implement: [key, default, kinds it changes]. */
const NEUTRAL_VALUES: readonly (readonly [string, unknown, readonly SchedulerKind[]])[] = [
  ['prediction_type', 'epsilon', ALL],
  ['skip_prk_steps', true, ['plms']],
  ['clip_sample', false, ['ddim']],
  ['thresholding', false, ['ddim', 'dpmpp-2m']],
  ['rescale_betas_zero_snr', false, ['ddim', 'euler', 'dpmpp-2m']],
  ['use_karras_sigmas', false, SIGMA_BASED],
  ['use_exponential_sigmas', false, SIGMA_BASED],
  ['use_beta_sigmas', false, SIGMA_BASED],
  ['use_dynamic_shifting', false, SIGMA_BASED],
  ['final_sigmas_type', 'zero', SIGMA_BASED],
  ['interpolation_type', 'linear', ['euler']],
  ['timestep_type', 'discrete', ['euler']],
  ['use_lu_lambdas', false, ['dpmpp-2m']],
  ['use_flow_sigmas', false, ['dpmpp-2m']],
  ['lambda_min_clipped', '-Infinity', ['dpmpp-2m']],
];

/**
 * Maps a diffusers scheduler_config.json object onto SchedulerConfig. Settings that would change
 * the math in ways this runtime does not implement (v-prediction, Karras sigmas, zero-SNR
 * rescaling, clipping, thresholding, …) are recorded in `unsupported`, never silently ignored.
 */
export function schedulerConfigFromJson(json: unknown, source = 'scheduler_config.json'): Partial<SchedulerConfig> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${source}: not a JSON object`);
  const o = json as Record<string, unknown>;
  const get = (key: string): unknown => (o[key] === null ? undefined : o[key]);
  const num = (key: string): number | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${source}: ${key} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string): boolean | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw new Error(`${source}: ${key} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const choice = <S extends string>(key: string, allowed: readonly S[]): S | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (!(allowed as readonly unknown[]).includes(v)) {
      throw new Error(`${source}: ${key} = ${JSON.stringify(v)} is not supported (supported: ${allowed.join(', ')})`);
    }
    return v as S;
  };

  const unsupported: UnsupportedSetting[] = [];
  for (const [key, neutral, kinds] of NEUTRAL_VALUES) {
    const v = get(key);
    if (v !== undefined && v !== neutral && !(key === 'lambda_min_clipped' && v === -Infinity)) {
      unsupported.push({ setting: `${key} = ${JSON.stringify(v)} in ${source} (supported: ${JSON.stringify(neutral)})`, kinds });
    }
  }
  const trained = get('trained_betas');
  if (trained !== undefined && !(Array.isArray(trained) && trained.every((b) => typeof b === 'number'))) {
    throw new Error(`${source}: trained_betas must be a list of numbers or null`);
  }
  return stripUndefined({
    numTrainTimesteps: num('num_train_timesteps'),
    betaStart: num('beta_start'),
    betaEnd: num('beta_end'),
    betaSchedule: choice('beta_schedule', ['scaled_linear', 'linear', 'squaredcos_cap_v2'] as const),
    trainedBetas: trained as number[] | undefined,
    stepsOffset: num('steps_offset'),
    timestepSpacing: choice('timestep_spacing', ['leading', 'linspace', 'trailing'] as const),
    setAlphaToOne: bool('set_alpha_to_one'),
    unsupported,
  });
}

/** Throws if the config holds a setting that changes `kind`'s math and is not implemented. */
export function assertSupported(config: SchedulerConfig, kind: SchedulerKind): void {
  const hits = config.unsupported.filter((u) => u.kinds.includes(kind));
  if (hits.length > 0) throw new Error(`${kind} scheduler: unsupported settings: ${hits.map((u) => u.setting).join('; ')}`);
}

/** Reads a scheduler_config.json (e.g. <model>/scheduler/scheduler_config.json). */
export async function loadSchedulerConfig(path: string): Promise<Partial<SchedulerConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read scheduler config ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  return schedulerConfigFromJson(json, path);
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

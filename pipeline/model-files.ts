// Finds an SD 1.x model's weights and configs in either layout people have:
//  - a diffusers folder: model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/, each
//    with config.json and safetensors weights (plain, *.fp16 variant, or sharded with an index);
//  - a single-file checkpoint (v1-5-pruned-emaonly.safetensors style): LDM names under
//    model.diffusion_model.*, first_stage_model.* and cond_stage_model.transformer.*.
// Either way the result is one WeightSource per component under diffusers/transformers names,
// plus typed configs, so nothing downstream knows which layout it came from.
//
// Single files carry no configs. Like diffusers' from_single_file, which fetches the reference
// repo's configs (or takes config=<repo or folder>), configs come from `configFrom` when given;
// otherwise everything visible in the weight shapes (channels, block counts and types, layers,
// widths, depths) is inferred and the rest is SD 1.5's:
//  - U-Net heads: 8 in every block (SD 1.x's scheme; override with unetAttentionHeads);
//  - text encoder heads: hidden size / 64, CLIP's head width (768 → 12; override with
//    textEncoderHeads; a width that is not a multiple of 64 must be given);
//  - norm groups 32, eps, sample sizes, the VAE scaling factor 0.18215, quick_gelu: SD 1.5's.

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { SafetensorsFile } from '../runtime/safetensors.js';
import type { FloatDType } from '../runtime/dtype.js';
import { MappedWeightSource, type KeyMapping, type TensorFile, type WeightSource } from '../runtime/weights.js';
import { checkUNetConfig, inferUNetConfig, parseUNetConfig, type UNetConfig } from '../unet/config.js';
import { inferVaeConfig, parseVaeConfig, type VaeConfig } from '../vae/config.js';
import { inferClipTextConfig, parseClipTextConfig, checkClipTextConfig, type ClipTextConfig } from '../clip/config.js';
import { inferLdmUNetLayout, ldmUNetMapping, LDM_UNET_PREFIX, type LdmUNetLayout } from '../unet/ldm-names.js';
import { diffusersVaeMapping, inferLdmVaeLayout, ldmVaeMapping, LDM_VAE_PREFIX, type LdmVaeLayout } from '../vae/ldm-names.js';
import { clipTextMapping, LDM_CLIP_PREFIX } from '../clip/ldm-names.js';

export type CheckpointLayout = 'diffusers' | 'single-file';

export interface ModelFilesOptions {
  /**
   * The dtype the weights will be loaded as. With 'f16' a diffusers folder's `*.fp16.safetensors`
   * variant is preferred when present; with 'f32' (default) the plain file is, and an fp16-only
   * folder still works (values widen exactly).
   */
  readonly dtype?: FloatDType;
  /**
   * Single files: a diffusers folder (or any folder with unet/, vae/, text_encoder/ config.json,
   * and optionally tokenizer/ and scheduler/) whose configs are used instead of inferred ones,
   * as diffusers' from_single_file(config=...). Components without a config there are inferred.
   */
  readonly configFrom?: string;
  /** U-Net attention heads, one for all blocks or one per down block; overrides any config. */
  readonly unetAttentionHeads?: number | readonly number[];
  /** Text encoder attention heads; overrides any config. */
  readonly textEncoderHeads?: number;
  /** A CLIP tokenizer folder (tokenizer.json, or vocab.json + merges.txt); overrides the bundled one. */
  readonly tokenizerDir?: string;
}

export interface ComponentFiles<C> {
  readonly config: C;
  /** A config.json path, or a description of how the config was inferred. */
  readonly configSource: string;
  readonly weights: WeightSource;
  /** The safetensors files the weights come from. */
  readonly files: readonly string[];
}

export interface ModelFiles {
  readonly layout: CheckpointLayout;
  readonly path: string;
  readonly unet: ComponentFiles<UNetConfig>;
  readonly vae: ComponentFiles<VaeConfig>;
  readonly textEncoder: ComponentFiles<ClipTextConfig>;
  /**
   * The tokenizer folder: a diffusers folder's tokenizer/, options.tokenizerDir, or configFrom's
   * tokenizer/. null for a single file given neither: single files bundle no tokenizer, and the
   * caller must supply SD 1.5's (CLIP ViT-L/14's BPE: the tokenizer/ folder of any SD 1.5
   * diffusers repo, or openai/clip-vit-large-patch14). See requireTokenizerDir.
   */
  readonly tokenizerDir: string | null;
  /** scheduler_config.json's contents; SD15_SCHEDULER_CONFIG for a single file without configFrom. */
  readonly scheduler: { readonly config: Readonly<Record<string, unknown>>; readonly source: string };
  /** Closes every file the weight sources read from. */
  close(): Promise<void>;
}

/** runwayml/stable-diffusion-v1-5's scheduler/scheduler_config.json (PNDM, scaled_linear betas). */
export const SD15_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'PNDMScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
});

const INFERRED = 'inferred from weight shapes (SD 1.5 values for what shapes cannot show)';

/** Detects the layout of `path` (a diffusers folder or a .safetensors file) and opens it. */
export async function openModelFiles(path: string, options: ModelFilesOptions = {}): Promise<ModelFiles> {
  const root = resolve(path);
  let info;
  try {
    info = await stat(root);
  } catch (e) {
    throw new Error(`model path ${root} does not exist (${(e as Error).message})`);
  }
  if (info.isDirectory()) {
    if (!(await exists(join(root, 'model_index.json'))) && !(await exists(join(root, 'unet')))) {
      throw new Error(
        `${root} is not a diffusers folder (no model_index.json or unet/); pass a diffusers folder or a single .safetensors checkpoint`,
      );
    }
    return openDiffusersFolder(root, options);
  }
  const ext = extname(root).toLowerCase();
  if (ext === '.ckpt' || ext === '.pt' || ext === '.pth' || ext === '.bin') {
    throw new Error(
      `${basename(root)} is a PyTorch pickle checkpoint; only .safetensors is read (pickles can run code). ` +
        'Convert it first, e.g. with safetensors.torch.save_file(torch.load(path)["state_dict"], out)',
    );
  }
  return openSingleFile(root, options);
}

/** The tokenizer folder, or an error that says what the caller must supply. */
export function requireTokenizerDir(files: ModelFiles): string {
  if (files.tokenizerDir) return files.tokenizerDir;
  throw new Error(
    `${basename(files.path)} is a single-file checkpoint and bundles no tokenizer: pass tokenizerDir, a CLIP ` +
      'ViT-L/14 tokenizer folder (tokenizer.json, or vocab.json + merges.txt), e.g. the tokenizer/ folder of a ' +
      'Stable Diffusion 1.5 diffusers repo or of openai/clip-vit-large-patch14',
  );
}

// ---- diffusers folders ----

async function openDiffusersFolder(root: string, options: ModelFilesOptions): Promise<ModelFiles> {
  const dtype = options.dtype ?? 'f32';
  const opened = new OpenFiles();
  try {
    const unetFiles = await openComponentWeights(join(root, 'unet'), ['diffusion_pytorch_model', 'model'], dtype, opened);
    const vaeFiles = await openComponentWeights(join(root, 'vae'), ['diffusion_pytorch_model', 'model'], dtype, opened);
    const textFiles = await openComponentWeights(join(root, 'text_encoder'), ['model', 'diffusion_pytorch_model'], dtype, opened);

    const unetConfigPath = join(root, 'unet', 'config.json');
    const vaeConfigPath = join(root, 'vae', 'config.json');
    const textConfigPath = join(root, 'text_encoder', 'config.json');
    const unetConfig = withUNetHeads(parseUNetConfig(await readJson(unetConfigPath), unetConfigPath), options, unetConfigPath);
    const vaeConfig = parseVaeConfig(await readJson(vaeConfigPath), vaeConfigPath);
    const textConfig = withTextHeads(parseClipTextConfig(await readJson(textConfigPath), textConfigPath), options, textConfigPath);

    const label = (c: string): string => `${c} (${join(root, c)})`;
    const tokenizer = options.tokenizerDir ?? ((await exists(join(root, 'tokenizer'))) ? join(root, 'tokenizer') : null);
    const schedulerPath = join(root, 'scheduler', 'scheduler_config.json');
    return {
      layout: 'diffusers',
      path: root,
      unet: component(unetConfig, unetConfigPath, unetFiles, { label: label('unet') }),
      vae: component(vaeConfig, vaeConfigPath, vaeFiles, { label: label('vae'), map: diffusersVaeMapping }),
      textEncoder: component(textConfig, textConfigPath, textFiles, { label: label('text_encoder'), map: clipTextMapping }),
      tokenizerDir: tokenizer && resolve(tokenizer),
      scheduler: (await exists(schedulerPath))
        ? { config: await readJsonObject(schedulerPath), source: schedulerPath }
        : { config: SD15_SCHEDULER_CONFIG, source: 'SD 1.5 default (the folder has no scheduler/scheduler_config.json)' },
      close: () => opened.closeAll(),
    };
  } catch (e) {
    await opened.closeAll();
    throw e;
  }
}

function component<C>(
  config: C,
  configSource: string,
  files: readonly TensorFile[],
  source: { label: string; prefix?: string; map?: KeyMapping },
): ComponentFiles<C> {
  return { config, configSource, weights: MappedWeightSource.create(files, source), files: files.map((f) => f.path) };
}

/**
 * Picks a component's weight file(s): for each variant in preference order, a plain
 * `<base>[.fp16].safetensors`, then a sharded `<base>.safetensors.index[.fp16].json` (the name
 * diffusers and transformers write) or `<base>[.fp16].safetensors.index.json`.
 */
async function openComponentWeights(
  dir: string,
  bases: readonly string[],
  dtype: FloatDType,
  opened: OpenFiles,
): Promise<TensorFile[]> {
  let listing: string[];
  try {
    listing = await readdir(dir);
  } catch {
    throw new Error(`the diffusers folder has no ${basename(dir)}/ (${dir})`);
  }
  const present = new Set(listing);
  const variants = dtype === 'f16' ? ['.fp16', ''] : ['', '.fp16'];
  for (const variant of variants) {
    for (const base of bases) {
      const single = `${base}${variant}.safetensors`;
      if (present.has(single)) return [await opened.open(join(dir, single))];
      for (const index of [`${base}.safetensors.index${variant}.json`, `${base}${variant}.safetensors.index.json`]) {
        if (present.has(index)) return openSharded(join(dir, index), opened);
      }
    }
  }
  const pickles = listing.filter((f) => f.endsWith('.bin') || f.endsWith('.ckpt'));
  if (pickles.length > 0) {
    throw new Error(
      `${dir} holds only PyTorch pickle weights (${pickles.join(', ')}); only .safetensors is read. ` +
        'Re-save the folder with safe_serialization=True',
    );
  }
  throw new Error(`${dir} has no ${bases[0]}.safetensors (nor an fp16 variant or a sharded index); it holds: ${listing.join(', ') || 'nothing'}`);
}

async function openSharded(indexPath: string, opened: OpenFiles): Promise<TensorFile[]> {
  const index = await readJsonObject(indexPath);
  const map = index['weight_map'];
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${indexPath}: no weight_map object`);
  const byFile = new Map<string, string[]>();
  for (const [key, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
      throw new Error(`${indexPath}: weight_map entry ${key} must name a file beside the index, got ${JSON.stringify(file)}`);
    }
    byFile.set(file, [...(byFile.get(file) ?? []), key]);
  }
  const dir = resolve(indexPath, '..');
  const files: TensorFile[] = [];
  const problems: string[] = [];
  for (const [file, keys] of byFile) {
    const f = await opened.open(join(dir, file));
    files.push(f);
    const absent = keys.filter((k) => !f.entries.has(k));
    if (absent.length > 0) problems.push(`${file} lacks ${absent.length} tensor(s) the index puts there: ${absent.slice(0, 5).join(', ')}`);
  }
  if (problems.length > 0) throw new Error(`${indexPath} does not match its shards:\n  ${problems.join('\n  ')}`);
  return files;
}

// ---- single-file checkpoints ----

async function openSingleFile(path: string, options: ModelFilesOptions): Promise<ModelFiles> {
  const opened = new OpenFiles();
  try {
    const file = await opened.open(path);
    const keys = [...file.entries.keys()];
    const under = (prefix: string): string[] => keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
    checkSingleFileComponents(path, keys);

    const given = options.configFrom ? resolve(options.configFrom) : null;
    const configPath = async (c: string): Promise<string | null> => {
      if (!given) return null;
      const p = join(given, c, 'config.json');
      return (await exists(p)) ? p : null;
    };
    const name = basename(path);

    // U-Net: the flat LDM numbering needs the layout before any name can be mapped.
    const unetConfigPath = await configPath('unet');
    const unetGiven = unetConfigPath ? parseUNetConfig(await readJson(unetConfigPath), unetConfigPath) : null;
    const unetLayout: LdmUNetLayout = unetGiven
      ? { blocks: unetGiven.blockOutChannels.length, layersPerBlock: unetGiven.layersPerBlock }
      : inferLdmUNetLayout(under(LDM_UNET_PREFIX));
    const unetWeights = MappedWeightSource.create([file], {
      label: `unet (${name}, ${LDM_UNET_PREFIX}*)`,
      prefix: LDM_UNET_PREFIX,
      map: ldmUNetMapping(unetLayout),
    });
    const unetConfig = withUNetHeads(
      unetGiven ?? inferUNetConfig(unetWeights, options.unetAttentionHeads ? { attentionHeads: options.unetAttentionHeads } : {}),
      options,
      unetConfigPath ?? INFERRED,
    );

    const vaeConfigPath = await configPath('vae');
    const vaeGiven = vaeConfigPath ? parseVaeConfig(await readJson(vaeConfigPath), vaeConfigPath) : null;
    const vaeLayout: LdmVaeLayout = vaeGiven ? { blocks: vaeGiven.blockOutChannels.length } : inferLdmVaeLayout(under(LDM_VAE_PREFIX));
    const vaeWeights = MappedWeightSource.create([file], {
      label: `vae (${name}, ${LDM_VAE_PREFIX}*)`,
      prefix: LDM_VAE_PREFIX,
      map: ldmVaeMapping(vaeLayout),
    });
    const vaeConfig = vaeGiven ?? inferVaeConfig(vaeWeights);

    const textConfigPath = await configPath('text_encoder');
    const textWeights = MappedWeightSource.create([file], {
      label: `text_encoder (${name}, ${LDM_CLIP_PREFIX}*)`,
      prefix: LDM_CLIP_PREFIX,
      map: clipTextMapping,
    });
    const textConfig = textConfigPath
      ? withTextHeads(parseClipTextConfig(await readJson(textConfigPath), textConfigPath), options, textConfigPath)
      : inferClipTextConfig(textWeights, options.textEncoderHeads ? { heads: options.textEncoderHeads } : {});

    const tokenizer =
      options.tokenizerDir ?? (given && (await exists(join(given, 'tokenizer'))) ? join(given, 'tokenizer') : null);
    const schedulerPath = given ? join(given, 'scheduler', 'scheduler_config.json') : null;
    const files = [path];
    return {
      layout: 'single-file',
      path,
      unet: { config: unetConfig, configSource: unetConfigPath ?? INFERRED, weights: unetWeights, files },
      vae: { config: vaeConfig, configSource: vaeConfigPath ?? INFERRED, weights: vaeWeights, files },
      textEncoder: { config: textConfig, configSource: textConfigPath ?? INFERRED, weights: textWeights, files },
      tokenizerDir: tokenizer && resolve(tokenizer),
      scheduler:
        schedulerPath && (await exists(schedulerPath))
          ? { config: await readJsonObject(schedulerPath), source: schedulerPath }
          : { config: SD15_SCHEDULER_CONFIG, source: 'SD 1.5 default (single files carry no scheduler config)' },
      close: () => opened.closeAll(),
    };
  } catch (e) {
    await opened.closeAll();
    throw e;
  }
}

/** One error naming every component the file lacks, with a hint at what the file is instead. */
function checkSingleFileComponents(path: string, keys: readonly string[]): void {
  const lacking: string[] = [];
  const has = (prefix: string): boolean => keys.some((k) => k.startsWith(prefix));
  if (!has(LDM_UNET_PREFIX)) lacking.push(`U-Net (${LDM_UNET_PREFIX}*)`);
  if (!has(LDM_VAE_PREFIX)) lacking.push(`VAE (${LDM_VAE_PREFIX}*)`);
  if (!has(LDM_CLIP_PREFIX)) lacking.push(`CLIP text encoder (${LDM_CLIP_PREFIX}*)`);
  if (lacking.length === 0) return;
  const hints: string[] = [];
  if (has('cond_stage_model.model.')) hints.push('it has an OpenCLIP text encoder (cond_stage_model.model.*): SD 2.x, not supported');
  if (has('conditioner.embedders.')) hints.push('it has conditioner.embedders.*: an SDXL checkpoint, not supported');
  if (keys.includes('conv_in.weight') || keys.includes('encoder.conv_in.weight') || keys.some((k) => k.startsWith('text_model.'))) {
    hints.push('it looks like one diffusers component file: pass the diffusers folder instead');
  }
  const prefixes = [...new Set(keys.map((k) => k.split('.')[0]))].slice(0, 12);
  throw new Error(
    `${basename(path)} is not a complete SD 1.x single-file checkpoint: it lacks the ${lacking.join(', the ')}` +
      (hints.length > 0 ? `; ${hints.join('; ')}` : '') +
      ` (top-level names in the file: ${prefixes.join(', ')})`,
  );
}

// ---- overrides and helpers ----

function withUNetHeads(config: UNetConfig, options: ModelFilesOptions, source: string): UNetConfig {
  const h = options.unetAttentionHeads;
  if (h === undefined) return config;
  const heads = typeof h === 'number' ? new Array<number>(config.blockOutChannels.length).fill(h) : [...h];
  const out = { ...config, attentionHeads: heads };
  checkUNetConfig(out, `${source} with unetAttentionHeads ${JSON.stringify(h)}`);
  return out;
}

function withTextHeads(config: ClipTextConfig, options: ModelFilesOptions, source: string): ClipTextConfig {
  if (options.textEncoderHeads === undefined) return config;
  const out = { ...config, heads: options.textEncoderHeads };
  checkClipTextConfig(out, `${source} with textEncoderHeads ${options.textEncoderHeads}`);
  return out;
}

/** Opens each file once and closes them all together (the components of a single file share it). */
class OpenFiles {
  private readonly files = new Map<string, SafetensorsFile>();

  async open(path: string): Promise<SafetensorsFile> {
    const key = resolve(path);
    let f = this.files.get(key);
    if (!f) {
      f = await SafetensorsFile.open(key);
      this.files.set(key, f);
    }
    return f;
  }

  async closeAll(): Promise<void> {
    const all = [...this.files.values()];
    this.files.clear();
    await Promise.all(all.map((f) => f.close()));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  const v = await readJson(path);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path}: expected a JSON object`);
  return v as Record<string, unknown>;
}

// Writes a planned random checkpoint as a diffusers folder. Everything goes into `<out>.tmp` first
// and is renamed to `<out>` only when complete, so a failure or an interrupt never leaves a
// half-written model where a complete one is expected. Tensors are generated and written chunk by
// chunk (never a whole tensor, let alone a component, in memory).

import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { writeSafetensorsStreaming, type TensorChunk, type TensorToStream } from '../../runtime/safetensors.js';
import { TensorRng } from './rng.js';
import { toF16Bits } from './f16.js';
import { POSITION_EMBEDDING_STD, TOKEN_EMBEDDING_STD, type InitRule } from './init.js';
import { SAFETENSORS_METADATA, STORED_DTYPE, type CheckpointDType, type CheckpointPlan, type ComponentName, type PlannedTensor } from './plan.js';

/** Values per generated chunk (4 MiB of f32). Fixed: the values drawn depend on it for normal tensors. */
const CHUNK_ELEMENTS = 1 << 20;

export interface WriteProgress {
  readonly component: ComponentName;
  readonly componentBytes: number;
  readonly componentTotal: number;
  readonly doneBytes: number;
  readonly totalBytes: number;
}

export interface WriteOptions {
  readonly out: string;
  readonly seed: number;
  /** A CLIP tokenizer folder to copy: tokenizer.json, or vocab.json + merges.txt (and their configs). */
  readonly tokenizerFrom: string;
  /** Replace an existing non-empty `out` (and a leftover `<out>.tmp`). */
  readonly force?: boolean;
  readonly onProgress?: (p: WriteProgress) => void;
}

export interface WriteResult {
  readonly out: string;
  readonly bytes: number;
  readonly seconds: number;
}

/** The temporary folder a checkpoint is assembled in. */
export function stagingDir(out: string): string {
  return `${resolve(out)}.tmp`;
}

/** Throws (before anything is written) if out, its staging folder or the tokenizer folder is unusable. */
export function checkDestination(options: WriteOptions): void {
  const out = resolve(options.out);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new Error(`--out ${out} exists and is not a directory`);
    if (readdirSync(out).length > 0 && !options.force) throw new Error(`--out ${out} exists and is not empty; pass --force to replace it`);
  }
  const staging = stagingDir(out);
  if (existsSync(staging) && !options.force) {
    throw new Error(`${staging} exists (left by an interrupted run?); remove it or pass --force`);
  }
  if (!existsSync(dirname(out))) throw new Error(`--out ${out}: its parent folder ${dirname(out)} does not exist`);
  tokenizerFiles(options.tokenizerFrom);
}

/** The files of a tokenizer folder to copy; throws unless it holds a CLIP tokenizer. */
export function tokenizerFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`tokenizer folder ${dir} does not exist`);
  const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());
  const has = (f: string): boolean => files.includes(f);
  if (!has('tokenizer.json') && !(has('vocab.json') && has('merges.txt'))) {
    throw new Error(`${dir} is not a CLIP tokenizer folder: it has neither tokenizer.json nor vocab.json + merges.txt`);
  }
  return files;
}

export async function writeRandomCheckpoint(plan: CheckpointPlan, options: WriteOptions): Promise<WriteResult> {
  checkDestination(options);
  const out = resolve(options.out);
  const staging = stagingDir(out);
  const started = performance.now();
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  try {
    const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
    await writeFile(join(staging, 'model_index.json'), json(plan.configs.modelIndex));
    let doneBytes = 0;
    for (const c of plan.components) {
      await mkdir(join(staging, dirname(c.weightsFile)), { recursive: true });
      await writeFile(join(staging, c.configFile), json(c.config));
      let componentBytes = 0;
      const report = (bytes: number): void => {
        componentBytes += bytes;
        doneBytes += bytes;
        options.onProgress?.({ component: c.component, componentBytes, componentTotal: c.bytes, doneBytes, totalBytes: plan.bytes });
      };
      const tensors: Record<string, TensorToStream> = {};
      for (const t of c.tensors) {
        tensors[t.key] = {
          dtype: STORED_DTYPE[plan.dtype],
          shape: t.shape,
          chunks: () => reporting(tensorChunks(new TensorRng(options.seed, `${c.component}/${t.name}`), t, plan.dtype), report),
        };
      }
      await writeSafetensorsStreaming(join(staging, c.weightsFile), tensors, SAFETENSORS_METADATA);
      // the header and padding are not in any chunk
      report(c.bytes - componentBytes);
    }
    await mkdir(join(staging, 'scheduler'));
    await writeFile(join(staging, 'scheduler', 'scheduler_config.json'), json(plan.configs.scheduler));
    await mkdir(join(staging, 'tokenizer'));
    for (const f of tokenizerFiles(options.tokenizerFrom)) await copyFile(join(options.tokenizerFrom, f), join(staging, 'tokenizer', f));
    await writeFile(join(staging, 'random-weights.json'), json(provenance(plan, options.seed)));
    if (existsSync(out)) await rm(out, { recursive: true, force: true });
    await rename(staging, out);
  } catch (e) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  return { out, bytes: plan.bytes, seconds: (performance.now() - started) / 1000 };
}

function* tensorChunks(rng: TensorRng, t: PlannedTensor, dtype: CheckpointDType): Generator<TensorChunk> {
  const count = t.shape.reduce((p, d) => p * d, 1);
  const rule: InitRule = t.rule;
  if (rule.kind === 'constant' && rule.value === 0) {
    // left as a hole by the writer: zero bytes are 0.0 in both dtypes
    yield { zeros: count * (dtype === 'f16' ? 2 : 4) };
    return;
  }
  for (let at = 0; at < count; at += CHUNK_ELEMENTS) {
    const values = new Float32Array(Math.min(CHUNK_ELEMENTS, count - at));
    if (rule.kind === 'uniform') rng.uniform(values, -rule.bound, rule.bound);
    else if (rule.kind === 'normal') rng.normal(values, rule.std);
    else values.fill(rule.value);
    yield dtype === 'f16' ? toF16Bits(values) : values;
  }
}

function* reporting(chunks: Iterable<TensorChunk>, report: (bytes: number) => void): Generator<TensorChunk> {
  for (const chunk of chunks) {
    yield chunk;
    report(ArrayBuffer.isView(chunk) ? chunk.byteLength : chunk.zeros);
  }
}

function provenance(plan: CheckpointPlan, seed: number): Record<string, unknown> {
  return {
    note: 'Random weights for testing and benchmarking; not a trained model. Written by scripts/make-random-checkpoint.js.',
    arch: plan.arch,
    configs: plan.configs.source,
    dtype: plan.dtype,
    seed,
    generator: 'sfc32, one stream per tensor keyed by seed and "<component>/<parameter name>"',
    init: {
      'Linear and Conv2d weights': 'U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch default kaiming_uniform_(a=sqrt(5)))',
      'Linear and Conv2d biases': 'U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight fan_in (PyTorch default)',
      'GroupNorm and LayerNorm': 'weight 1, bias 0',
      token_embedding: `N(0, ${TOKEN_EMBEDDING_STD}^2)`,
      position_embedding: `N(0, ${POSITION_EMBEDDING_STD}^2)`,
    },
    parameters: Object.fromEntries(plan.components.map((c) => [c.component, c.params])),
    files: Object.fromEntries(plan.components.map((c) => [c.weightsFile, c.bytes])),
  };
}

// Weights by the names the models use (diffusers/transformers names), whichever files and naming
// scheme they are stored under, and loading a model's parameters with one complete check.

import type { Runtime } from './runtime.js';
import type { Tensor } from './tensor.js';
import { elementCount, formatShape, type FloatDType } from './dtype.js';
import type { SafetensorsDType, TensorEntry } from './safetensors-header.js';

/** What a WeightSource needs of an open safetensors file; SafetensorsFile provides it. */
export interface TensorFile {
  readonly path: string;
  readonly entries: ReadonlyMap<string, TensorEntry>;
  readToGpu(rt: Runtime, name: string, dtype: FloatDType): Promise<Tensor>;
  readFloat32(name: string): Promise<Float32Array>;
}

/** Names and shapes only: enough to infer a config or check a checkpoint against a model. */
export interface ShapeIndex {
  names(): readonly string[];
  has(name: string): boolean;
  shape(name: string): readonly number[];
}

/** Where one weight lives. */
export interface StoredWeight {
  /** The model's name for it. */
  readonly name: string;
  /** The shape the model sees (after any reshape the name mapping asks for). */
  readonly shape: readonly number[];
  /** The shape and dtype in the file. */
  readonly storedShape: readonly number[];
  readonly dtype: SafetensorsDType;
  readonly file: TensorFile;
  /** The tensor's name in the file. */
  readonly key: string;
}

/** A component's weights (one model: U-Net, VAE, text encoder) under the model's names. */
export interface WeightSource extends ShapeIndex {
  /** For messages: what this is and where it comes from. */
  readonly label: string;
  stored(name: string): StoredWeight;
  /** Uploads one weight as dtype (F32/F16/BF16 stored values convert; BF16 widens exactly). */
  load(rt: Runtime, name: string, dtype: FloatDType): Promise<Tensor>;
  /** A host copy as float32, in the model's shape. */
  readFloat32(name: string): Promise<Float32Array>;
}

/** A stored key's model name, and the model's shape when it differs (same element count). */
export interface MappedKey {
  readonly name: string;
  readonly shape?: readonly number[];
}

/**
 * Turns a stored key (prefix already removed) into the model's name. `'drop'` discards known
 * non-parameter buffers (e.g. CLIP's position_ids); `undefined` means "not a name this mapping
 * knows": the weight keeps its full stored key, so a model check reports it as unexpected.
 */
export type KeyMapping = (key: string, shape: readonly number[]) => MappedKey | 'drop' | undefined;

export interface MappedSourceOptions {
  readonly label: string;
  /** Only keys starting with this belong to the component (e.g. 'model.diffusion_model.'). */
  readonly prefix?: string;
  /** Default: names are the keys after the prefix. */
  readonly map?: KeyMapping;
}

const FLOAT_DTYPES: ReadonlySet<SafetensorsDType> = new Set(['F32', 'F16', 'BF16']);

/** A WeightSource over one or more safetensors files (a single file, or the shards of an index). */
export class MappedWeightSource implements WeightSource {
  private constructor(
    readonly label: string,
    private readonly weights: ReadonlyMap<string, StoredWeight>,
    /** Stored keys the mapping discarded as non-parameters. */
    readonly dropped: readonly string[],
  ) {}

  static create(files: readonly TensorFile[], options: MappedSourceOptions): MappedWeightSource {
    const prefix = options.prefix ?? '';
    const weights = new Map<string, StoredWeight>();
    const dropped: string[] = [];
    const collisions: string[] = [];
    for (const file of files) {
      for (const entry of file.entries.values()) {
        if (!entry.name.startsWith(prefix)) continue;
        const mapped = options.map ? options.map(entry.name.slice(prefix.length), entry.shape) : undefined;
        if (mapped === 'drop') {
          dropped.push(entry.name);
          continue;
        }
        const name = mapped?.name ?? (options.map ? entry.name : entry.name.slice(prefix.length));
        const shape = mapped?.shape ?? entry.shape;
        if (elementCount(shape) !== elementCount(entry.shape)) {
          throw new Error(`${options.label}: mapping ${entry.name} ${formatShape(entry.shape)} to ${name} ${formatShape(shape)} changes its size`);
        }
        const previous = weights.get(name);
        if (previous) {
          collisions.push(`${name}: from ${describeKey(previous)} and ${entry.name} (${file.path})`);
          continue;
        }
        weights.set(name, { name, shape, storedShape: entry.shape, dtype: entry.dtype, file, key: entry.name });
      }
    }
    if (collisions.length > 0) {
      throw new Error(`${options.label}: several stored tensors give the same weight:\n  ${collisions.join('\n  ')}`);
    }
    return new MappedWeightSource(options.label, weights, dropped);
  }

  names(): readonly string[] {
    return [...this.weights.keys()];
  }

  has(name: string): boolean {
    return this.weights.has(name);
  }

  shape(name: string): readonly number[] {
    return this.stored(name).shape;
  }

  stored(name: string): StoredWeight {
    const w = this.weights.get(name);
    if (!w) throw new Error(`${this.label}: no weight ${name}`);
    return w;
  }

  async load(rt: Runtime, name: string, dtype: FloatDType): Promise<Tensor> {
    const w = this.floatWeight(name);
    const t = await w.file.readToGpu(rt, w.key, dtype);
    if (sameShape(t.shape, w.shape)) return t;
    // A reshape (e.g. a 1×1 conv kernel read as a linear weight): same bytes, own buffer, so the
    // result can be disposed like any other weight (a view would never free its buffer).
    const out = rt.empty(w.shape, dtype);
    rt.copy(t, out);
    t.dispose();
    return out;
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const w = this.floatWeight(name);
    return w.file.readFloat32(w.key);
  }

  private floatWeight(name: string): StoredWeight {
    const w = this.stored(name);
    if (!FLOAT_DTYPES.has(w.dtype)) throw new Error(`${this.label}: weight ${name} is stored as ${w.dtype}, not a float type`);
    return w;
  }
}

// ---- checking and loading a model's parameters ----

export interface MissingWeight {
  readonly name: string;
  readonly expected: readonly number[];
}
export interface UnexpectedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  /** The stored key when it differs from name. */
  readonly key?: string;
}
export interface MisshapenWeight {
  readonly name: string;
  readonly expected: readonly number[];
  readonly got: readonly number[];
}
export interface NonFloatWeight {
  readonly name: string;
  readonly dtype: SafetensorsDType;
}

/** Everything wrong between a checkpoint and a model at once, so one run shows the whole story. */
export class WeightMismatchError extends Error {
  constructor(
    readonly label: string,
    readonly missing: readonly MissingWeight[],
    readonly unexpected: readonly UnexpectedWeight[],
    readonly wrongShape: readonly MisshapenWeight[],
    readonly nonFloat: readonly NonFloatWeight[],
  ) {
    super(mismatchMessage(label, missing, unexpected, wrongShape, nonFloat));
    this.name = 'WeightMismatchError';
  }
}

const LIST_LIMIT = 25;

function mismatchMessage(
  label: string,
  missing: readonly MissingWeight[],
  unexpected: readonly UnexpectedWeight[],
  wrongShape: readonly MisshapenWeight[],
  nonFloat: readonly NonFloatWeight[],
): string {
  const total = missing.length + unexpected.length + wrongShape.length + nonFloat.length;
  const lines = [`${label}: the checkpoint does not match the model (${total} problem${total === 1 ? '' : 's'})`];
  const section = <T>(title: string, items: readonly T[], line: (item: T) => string): void => {
    if (items.length === 0) return;
    lines.push(`  ${title} (${items.length}):`);
    for (const item of items.slice(0, LIST_LIMIT)) lines.push(`    ${line(item)}`);
    if (items.length > LIST_LIMIT) lines.push(`    ... and ${items.length - LIST_LIMIT} more`);
  };
  section('missing', missing, (m) => `${m.name} ${formatShape(m.expected)}`);
  section('unexpected', unexpected, (u) => `${u.name} ${formatShape(u.shape)}${u.key ? ` (stored as ${u.key})` : ''}`);
  section('wrong shape', wrongShape, (w) => `${w.name}: model wants ${formatShape(w.expected)}, checkpoint has ${formatShape(w.got)}`);
  section('not floating point', nonFloat, (n) => `${n.name}: ${n.dtype}`);
  return lines.join('\n');
}

/** Throws a WeightMismatchError unless source holds exactly the expected names with those shapes. */
export function checkParameters(source: WeightSource, expected: ReadonlyMap<string, readonly number[]>): void {
  const missing: MissingWeight[] = [];
  const unexpected: UnexpectedWeight[] = [];
  const wrongShape: MisshapenWeight[] = [];
  const nonFloat: NonFloatWeight[] = [];
  for (const [name, want] of expected) {
    if (!source.has(name)) {
      missing.push({ name, expected: want });
      continue;
    }
    const w = source.stored(name);
    if (!sameShape(w.shape, want)) wrongShape.push({ name, expected: want, got: w.shape });
    if (!FLOAT_DTYPES.has(w.dtype)) nonFloat.push({ name, dtype: w.dtype });
  }
  for (const name of source.names()) {
    if (expected.has(name)) continue;
    const w = source.stored(name);
    unexpected.push(w.key === name ? { name, shape: w.shape } : { name, shape: w.shape, key: w.key });
  }
  if (missing.length + unexpected.length + wrongShape.length + nonFloat.length > 0) {
    throw new WeightMismatchError(source.label, missing, unexpected, wrongShape, nonFloat);
  }
}

/**
 * Checks every tensor first (nothing is uploaded unless all match), then uploads each as dtype.
 * On a failure part-way the tensors already uploaded are disposed.
 */
export async function loadParameters(
  rt: Runtime,
  source: WeightSource,
  expected: ReadonlyMap<string, readonly number[]>,
  dtype: FloatDType,
): Promise<Map<string, Tensor>> {
  checkParameters(source, expected);
  const out = new Map<string, Tensor>();
  try {
    for (const name of expected.keys()) out.set(name, await source.load(rt, name, dtype));
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/** How many consecutive indices 0, 1, 2, ... the first capture group of `pattern` takes in names. */
export function countIndices(names: readonly string[], pattern: RegExp): number {
  const seen = new Set<number>();
  for (const k of names) {
    const m = pattern.exec(k);
    if (m) seen.add(Number(m[1]));
  }
  let count = 0;
  while (seen.has(count)) count++;
  return count;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function describeKey(w: StoredWeight): string {
  return `${w.key} (${w.file.path})`;
}

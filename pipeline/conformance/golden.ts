// A fixture's golden directory: index.json plus one safetensors file per section. Every tensor a
// part reads is marked as used, so the runner can report what nothing compared.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../../runtime/safetensors.js';

export class GoldenFile {
  private readonly used = new Set<string>();

  constructor(
    readonly name: string,
    private readonly file: SafetensorsFile,
  ) {}

  get path(): string {
    return this.file.path;
  }

  /** Every tensor name in the file, in header order. */
  tensors(): string[] {
    return [...this.file.entries.keys()];
  }

  has(tensor: string): boolean {
    return this.file.has(tensor);
  }

  shape(tensor: string): readonly number[] {
    return this.file.entry(tensor).shape;
  }

  async floats(tensor: string): Promise<Float32Array> {
    this.used.add(tensor);
    return this.file.readFloat32(tensor);
  }

  async ints(tensor: string): Promise<Int32Array> {
    this.used.add(tensor);
    return Int32Array.from(await this.file.readInts(tensor));
  }

  unused(): string[] {
    return this.tensors().filter((t) => !this.used.has(t));
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** Thrown when the fixture directory is not one the conformance checks can read (bad usage, exit 2). */
export class FixtureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FixtureError';
  }
}

export class GoldenSet {
  private readonly opened = new Map<string, Promise<GoldenFile>>();

  private constructor(
    readonly dir: string,
    /** golden/index.json: one section per golden file (and a few scalars such as the seed). */
    readonly index: Readonly<Record<string, unknown>>,
    /** Golden file names without .safetensors, sorted. */
    readonly files: readonly string[],
  ) {}

  static open(dir: string): GoldenSet {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new FixtureError(`${dir} does not exist or is not a directory`);
    const indexPath = join(dir, 'index.json');
    if (!existsSync(indexPath)) throw new FixtureError(`${dir} has no index.json`);
    let index: unknown;
    try {
      index = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new FixtureError(`${indexPath} is not valid JSON: ${(e as Error).message}`);
    }
    if (index === null || typeof index !== 'object' || Array.isArray(index)) throw new FixtureError(`${indexPath} is not a JSON object`);
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .map((f) => f.slice(0, -'.safetensors'.length))
      .sort();
    return new GoldenSet(dir, index as Record<string, unknown>, files);
  }

  has(name: string): boolean {
    return this.files.includes(name);
  }

  /** A top-level value of index.json (e.g. the fixture-wide "seed"). */
  value(key: string): unknown {
    return this.index[key];
  }

  /** The index.json section of a golden file, or undefined. */
  section(name: string): Readonly<Record<string, unknown>> | undefined {
    const s = this.index[name];
    return s !== null && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : undefined;
  }

  /** Opens `<dir>/<name>.safetensors` once; later calls share it. */
  open(name: string): Promise<GoldenFile> {
    let f = this.opened.get(name);
    if (!f) {
      f = SafetensorsFile.open(join(this.dir, `${name}.safetensors`)).then((file) => new GoldenFile(name, file));
      this.opened.set(name, f);
    }
    return f;
  }

  /** Per golden file, the tensors no part read (files never opened count whole). */
  async unused(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const name of this.files) {
      const unused = (await this.open(name)).unused();
      if (unused.length > 0) out.set(name, unused);
    }
    return out;
  }

  async close(): Promise<void> {
    const all = [...this.opened.values()];
    this.opened.clear();
    for (const f of all) await (await f.catch(() => null))?.close();
  }
}

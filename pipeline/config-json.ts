// Typed reads of the config.json files diffusers and transformers write, with errors that name the
// file and the field, so a wrong or hand-edited config fails at load rather than deep in a kernel.

/** One parsed config.json; every getter treats a missing key and JSON null alike as "use the default". */
export class ConfigFields {
  private constructor(
    readonly json: Readonly<Record<string, unknown>>,
    /** Where the values came from, for error messages (a path, or a description). */
    readonly source: string,
  ) {}

  static of(json: unknown, source: string): ConfigFields {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new Error(`${source}: a config must be a JSON object`);
    }
    return new ConfigFields(json as Record<string, unknown>, source);
  }

  /** True when the key is present and not null. */
  isSet(key: string): boolean {
    const v = this.json[key];
    return v !== undefined && v !== null;
  }

  raw(key: string): unknown {
    return this.json[key];
  }

  int(key: string, fallback: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.bad(key, 'an integer', v);
    return v;
  }

  positiveInt(key: string, fallback: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw this.bad(key, 'a positive integer', v);
    return v;
  }

  number(key: string, fallback: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.bad(key, 'a number', v);
    return v;
  }

  nullableNumber(key: string): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.bad(key, 'a number or null', v);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw this.bad(key, 'true or false', v);
    return v;
  }

  string(key: string, fallback: string): string {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') throw this.bad(key, 'a string', v);
    return v;
  }

  /** One of a fixed set of strings. */
  choice<S extends string>(key: string, allowed: readonly S[], fallback: S): S {
    const v = this.string(key, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      throw new Error(`${this.source}: ${key} = ${JSON.stringify(v)} is not supported (supported: ${allowed.join(', ')})`);
    }
    return v as S;
  }

  positiveIntList(key: string, fallback: readonly number[]): number[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [...fallback];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) {
      throw this.bad(key, 'a non-empty list of positive integers', v);
    }
    return v as number[];
  }

  /** diffusers' "int or per-block list" fields: a single value is repeated for every block. */
  perBlockInts(key: string, fallback: number | readonly number[], blocks: number): number[] {
    const v = this.json[key];
    const value = v === undefined || v === null ? fallback : v;
    if (typeof value === 'number') {
      if (!Number.isInteger(value) || value <= 0) throw this.bad(key, 'a positive integer or a list of them', value);
      return new Array<number>(blocks).fill(value);
    }
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) {
      throw this.bad(key, 'a positive integer or a list of them', value);
    }
    if (value.length !== blocks) {
      throw new Error(`${this.source}: ${key} has ${value.length} entries but the model has ${blocks} blocks`);
    }
    return [...(value as number[])];
  }

  stringList(key: string, fallback: readonly string[]): string[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [...fallback];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw this.bad(key, 'a list of strings', v);
    return v as string[];
  }

  private bad(key: string, want: string, got: unknown): Error {
    return new Error(`${this.source}: ${key} must be ${want}, got ${JSON.stringify(got)}`);
  }
}

/** A config with fields that must keep one value because the runtime implements only that one. */
export function unsupportedSettings(
  fields: ConfigFields,
  checks: readonly { key: string; ok: (value: unknown) => boolean; want: string }[],
): string[] {
  const out: string[] = [];
  for (const c of checks) {
    const v = fields.raw(c.key);
    if (!c.ok(v)) out.push(`${c.key} = ${JSON.stringify(v)} (supported: ${c.want})`);
  }
  return out;
}

export const isUnset = (v: unknown): boolean => v === undefined || v === null;

// Option parsing shared by the scripts: node:util parseArgs underneath, plus typed validation
// (integers, ranges, choices), a generated --help, and one way of failing: a bad command line is a
// one-line message plus the usage on stderr with exit code 2; any other error is a one-line
// message with exit code 1 and no stack trace (WEBGPU_DIFFUSION_DEBUG=1 shows the stack).

import { parseArgs } from 'node:util';
import { NoAdapterError } from '../runtime/gpu.js';

interface BaseOption {
  /** One line for --help. */
  readonly description: string;
  /** A one-letter alias (-s). */
  readonly short?: string;
  /** What the value is called in --help (default from the type: N, X, TEXT, …). */
  readonly valueName?: string;
}

export interface BooleanOption extends BaseOption {
  readonly type: 'boolean';
}
export interface StringOption extends BaseOption {
  readonly type: 'string';
  readonly default?: string;
}
/** Repeatable: every occurrence is kept, in order. */
export interface StringListOption extends BaseOption {
  readonly type: 'strings';
}
export interface IntegerOption extends BaseOption {
  readonly type: 'integer';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
  /** The value must be a multiple of this (image sides). */
  readonly multipleOf?: number;
}
export interface NumberOption extends BaseOption {
  readonly type: 'number';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}
export interface ChoiceOption<C extends string = string> extends BaseOption {
  readonly type: 'choice';
  readonly choices: readonly C[];
  readonly default?: C;
}

export type OptionSpec = BooleanOption | StringOption | StringListOption | IntegerOption | NumberOption | ChoiceOption;

export interface CliSpec<S extends Readonly<Record<string, OptionSpec>>> {
  /** The script's name for messages, e.g. 'txt2img'. */
  readonly name: string;
  /** The usage line(s) after "usage: ". */
  readonly usage: string;
  /** What the script does, shown under the usage by --help. */
  readonly description: string;
  readonly options: S;
  /** Positional arguments allowed (default 0 to 0). */
  readonly positionals?: { readonly min: number; readonly max: number; readonly name: string };
  /** Shown at the end of --help (examples, notes). */
  readonly epilogue?: string;
}

type ValueType<O extends OptionSpec> = O extends BooleanOption
  ? boolean
  : O extends StringListOption
    ? string[]
    : O extends ChoiceOption<infer C>
      ? C
      : O extends IntegerOption | NumberOption
        ? number
        : string;

/** An option's parsed value: always set for booleans, lists and options with a default. */
export type OptionValue<O extends OptionSpec> = O extends BooleanOption | StringListOption
  ? ValueType<O>
  : O extends { readonly default: unknown }
    ? ValueType<O>
    : ValueType<O> | undefined;

export type CliValues<S extends Readonly<Record<string, OptionSpec>>> = { -readonly [K in keyof S]: OptionValue<S[K]> };

export interface ParsedCommandLine<S extends Readonly<Record<string, OptionSpec>>> {
  readonly values: CliValues<S>;
  readonly positionals: string[];
  /** --help was given: the caller prints cli.help() and exits 0 (runScript does). */
  readonly help: boolean;
}

/** A command line that cannot be run as given: reported with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An expected failure (missing model, bad file): one line on stderr, exit code 1 (or the one given). */
export class ScriptError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'ScriptError';
  }
}

export class Cli<const S extends Readonly<Record<string, OptionSpec>>> {
  constructor(readonly spec: CliSpec<S>) {
    for (const [key, o] of Object.entries(spec.options)) {
      if (key === 'help') throw new Error(`${spec.name}: --help is built in`);
      if (o.type === 'choice' && o.default !== undefined && !o.choices.includes(o.default)) {
        throw new Error(`${spec.name}: --${key} default ${o.default} is not one of its choices`);
      }
    }
  }

  /** Parses and validates argv (without node and the script); throws UsageError. */
  parse(argv: readonly string[]): ParsedCommandLine<S> {
    const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
      help: { type: 'boolean', short: 'h', multiple: true },
    };
    for (const [key, o] of Object.entries(this.spec.options)) {
      config[key] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}), multiple: true };
    }
    let parsed: { values: Record<string, (string | boolean)[] | undefined>; positionals: string[] };
    try {
      parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: true }) as typeof parsed;
    } catch (e) {
      throw new UsageError(parseErrorMessage(e as Error & { code?: string }));
    }
    const help = parsed.values['help']?.some(Boolean) ?? false;
    const values: Record<string, unknown> = {};
    for (const [key, o] of Object.entries(this.spec.options)) {
      const given = parsed.values[key];
      if (o.type === 'boolean') {
        values[key] = given?.some(Boolean) ?? false;
        continue;
      }
      if (o.type === 'strings') {
        values[key] = (given ?? []).map(String);
        continue;
      }
      if (given && given.length > 1 && !help) throw new UsageError(`--${key} given ${given.length} times`);
      const raw = given?.[given.length - 1];
      values[key] = raw === undefined ? o.default : convert(key, o, String(raw));
    }
    const positionals = parsed.positionals;
    const p = this.spec.positionals ?? { min: 0, max: 0, name: '' };
    if (!help) {
      if (positionals.length > p.max) {
        throw new UsageError(
          p.max === 0
            ? `unexpected argument ${JSON.stringify(positionals[0])}`
            : `expected at most ${p.max} ${p.name} argument${p.max === 1 ? '' : 's'}, got ${positionals.length}` +
                (p.max === 1 ? ` (quote it: "${positionals.join(' ')}")` : ''),
        );
      }
      if (positionals.length < p.min) throw new UsageError(`missing ${p.name}`);
    }
    return { values: values as CliValues<S>, positionals, help };
  }

  /** The usage lines alone (with bad command lines). */
  usage(): string {
    return `usage: ${this.spec.usage}\nTry --help for the options.`;
  }

  help(): string {
    const rows: [string, string][] = [['-h, --help', 'show this help']];
    for (const [key, o] of Object.entries(this.spec.options)) {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${key}${o.type === 'boolean' ? '' : ` ${valueName(o)}`}`;
      rows.push([flag, describe(o)]);
    }
    const width = Math.min(30, Math.max(...rows.map(([f]) => f.length)) + 2);
    const lines = rows.map(([f, d]) => (f.length + 2 > width ? `  ${f}\n  ${' '.repeat(width)}${d}` : `  ${f.padEnd(width)}${d}`));
    return [`usage: ${this.spec.usage}`, '', this.spec.description, '', 'options:', ...lines, ...(this.spec.epilogue ? ['', this.spec.epilogue] : [])].join('\n');
  }
}

/**
 * Runs a script's main with the shared error handling: --help prints and exits 0; a UsageError
 * prints "name: message" and the usage, exit 2; any other error prints "name: message", exit 1.
 */
export async function runScript<const S extends Readonly<Record<string, OptionSpec>>>(
  cli: Cli<S>,
  main: (args: ParsedCommandLine<S>) => Promise<void>,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  const name = cli.spec.name;
  try {
    const args = cli.parse(argv);
    if (args.help) {
      process.stdout.write(`${cli.help()}\n`);
      return;
    }
    await main(args);
  } catch (e) {
    process.exitCode = reportError(name, e, cli);
  }
}

/** Prints an error the scripts' way and returns the exit code it calls for. */
export function reportError(name: string, e: unknown, cli?: Cli<Readonly<Record<string, OptionSpec>>>): number {
  if (e instanceof UsageError) {
    process.stderr.write(`${name}: ${e.message}\n${cli ? `${cli.usage()}\n` : ''}`);
    return 2;
  }
  const debug = process.env['WEBGPU_DIFFUSION_DEBUG'];
  if (debug && debug !== '0' && e instanceof Error && e.stack) {
    process.stderr.write(`${name}: ${e.stack}\n`);
    return 1;
  }
  const message = e instanceof NoAdapterError ? e.message : e instanceof Error ? e.message : String(e);
  process.stderr.write(`${name}: ${message}\n`);
  return e instanceof ScriptError ? e.exitCode : 1;
}

function convert(key: string, o: Exclude<OptionSpec, BooleanOption | StringListOption>, raw: string): string | number {
  switch (o.type) {
    case 'string':
      return raw;
    case 'choice':
      if (!o.choices.includes(raw)) throw new UsageError(`--${key} must be one of ${o.choices.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    case 'integer':
    case 'number': {
      const v = raw.trim() === '' ? NaN : Number(raw);
      const what = o.type === 'integer' ? 'an integer' : 'a number';
      if (!Number.isFinite(v) || (o.type === 'integer' && !Number.isSafeInteger(v))) {
        throw new UsageError(`--${key} must be ${what}, got ${JSON.stringify(raw)}`);
      }
      if (o.min !== undefined && v < o.min) throw new UsageError(`--${key} must be at least ${o.min}, got ${raw}`);
      if (o.max !== undefined && v > o.max) throw new UsageError(`--${key} must be at most ${o.max}, got ${raw}`);
      if (o.type === 'integer' && o.multipleOf !== undefined && v % o.multipleOf !== 0) {
        throw new UsageError(`--${key} must be a multiple of ${o.multipleOf}, got ${raw}`);
      }
      return v;
    }
  }
}

function valueName(o: Exclude<OptionSpec, BooleanOption>): string {
  if (o.valueName) return o.valueName;
  switch (o.type) {
    case 'integer':
      return 'N';
    case 'number':
      return 'X';
    case 'choice':
      return o.choices.join('|');
    default:
      return 'TEXT';
  }
}

function describe(o: OptionSpec): string {
  const notes: string[] = [];
  if ((o.type === 'integer' || o.type === 'number') && (o.min !== undefined || o.max !== undefined)) {
    notes.push(o.max === undefined ? `≥ ${o.min}` : o.min === undefined ? `≤ ${o.max}` : `${o.min}–${o.max}`);
  }
  if (o.type === 'integer' && o.multipleOf !== undefined) notes.push(`multiple of ${o.multipleOf}`);
  if (o.type === 'strings') notes.push('repeatable');
  if ('default' in o && o.default !== undefined) notes.push(`default ${o.default === '' ? '""' : o.default}`);
  return notes.length > 0 ? `${o.description} [${notes.join(', ')}]` : o.description;
}

/** parseArgs' messages are long and Node-flavoured; these say the same in one short line. */
function parseErrorMessage(e: Error & { code?: string }): string {
  const option = /'(?:-\w, )?(--?[^'\s,]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? e.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(e.message)) return `${option ?? 'an option'} needs a value`;
      if (/ambiguous/.test(e.message)) return `${option ?? 'an option'} needs a value (write ${option ?? '--option'}=-X for a value starting with -)`;
      if (/does not take an argument/.test(e.message)) return `${option ?? 'an option'} takes no value`;
      return e.message.split('\n')[0]!;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return e.message.split('\n')[0]!;
    default:
      return e.message.split('\n')[0]!;
  }
}

import { readFileSync } from 'node:fs';
import { fromRoot } from './paths.js';
import type { DType } from './dtype.js';

const sources = new Map<string, string>();

/** Reads kernels/<file> once. Kernel WGSL files hold plain WGSL that uses the prelude's names. */
export function kernelSource(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    src = readFileSync(fromRoot('kernels', file), 'utf8');
    sources.set(file, src);
  }
  return src;
}

export interface Specialization {
  /** Storage element type, visible to the shader as `alias T`. */
  readonly dtype?: DType;
  /** Extra enables (f16 is added when dtype is f16). */
  readonly enables?: readonly string[];
  /** Compile-time constants: numbers become `const NAME: u32`, unless written as `{ f32: x }` or `{ i32: x }`. */
  readonly consts?: Readonly<Record<string, number | boolean | { f32: number } | { i32: number }>>;
  /** Further alias lines, e.g. { ACC: 'f32' }. */
  readonly aliases?: Readonly<Record<string, string>>;
}

/** Prepends the enables, aliases and constants a kernel file expects. */
export function specialize(source: string, spec: Specialization): string {
  const lines: string[] = [];
  const enables = new Set(spec.enables ?? []);
  if (spec.dtype === 'f16') enables.add('f16');
  for (const e of enables) lines.push(`enable ${e};`);
  if (spec.dtype) lines.push(`alias T = ${spec.dtype};`);
  for (const [k, v] of Object.entries(spec.aliases ?? {})) lines.push(`alias ${k} = ${v};`);
  for (const [k, v] of Object.entries(spec.consts ?? {})) {
    if (typeof v === 'boolean') lines.push(`const ${k}: bool = ${v};`);
    else if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0) throw new Error(`constant ${k}=${v} must be a non-negative integer`);
      lines.push(`const ${k}: u32 = ${v}u;`);
    } else if ('f32' in v) lines.push(`const ${k}: f32 = ${floatLiteral(v.f32)};`);
    else lines.push(`const ${k}: i32 = ${v.i32}i;`);
  }
  return `${lines.join('\n')}\n${source}`;
}

function floatLiteral(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`non-finite WGSL constant ${x}`);
  const s = x.toPrecision(9);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

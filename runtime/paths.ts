import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** The package root: compiled code lives in dist/runtime, sources (WGSL, fixtures) beside dist. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function fromRoot(...parts: string[]): string {
  return resolve(packageRoot, ...parts);
}

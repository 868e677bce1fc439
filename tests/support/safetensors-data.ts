// Test data for the safetensors tests: scratch directories and hand-built (possibly malformed) files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Teardown {
  teardown(fn: () => void): void;
}

/** A fresh directory under os.tmpdir(), removed when the test ends. */
export function scratchDir(t: Teardown, prefix = 'safetensors-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Writes a file as safetensors lays it out, with whatever header is given: an object is
 * JSON-encoded, a string or bytes are used verbatim. `declaredLength` overrides the 8-byte length.
 */
export function writeRawSafetensors(
  path: string,
  header: object | string | Uint8Array,
  data: number | Uint8Array = 0,
  declaredLength?: bigint,
): void {
  const headerBytes =
    header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const file = new Uint8Array(8 + headerBytes.byteLength + body.byteLength);
  new DataView(file.buffer).setBigUint64(0, declaredLength ?? BigInt(headerBytes.byteLength), true);
  file.set(headerBytes, 8);
  file.set(body, 8 + headerBytes.byteLength);
  writeFileSync(path, file);
}

/** The header entry of one tensor, for hand-built headers. */
export function info(dtype: string, shape: unknown, offsets: unknown): Record<string, unknown> {
  return { dtype, shape, data_offsets: offsets };
}

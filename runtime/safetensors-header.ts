// The safetensors header: parsing with the checks huggingface/safetensors makes (and a few it leaves
// to luck), and encoding it the way the Python library writes it.

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8' | 'BOOL';

export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Absolute byte offsets in the file (header included), begin inclusive, end exclusive. */
  readonly begin: number;
  readonly end: number;
}

export class SafetensorsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SafetensorsError';
  }
}

export const DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I32: 4,
  I64: 8,
  U8: 1,
  BOOL: 1,
};

/**
 * The order of the Rust crate's Dtype enum, which its writer sorts by (descending) before the
 * tensor name: wider, more aligned dtypes first so every tensor's data stays aligned.
 */
export const DTYPE_WRITE_RANK: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 0,
  U8: 1,
  F16: 7,
  BF16: 8,
  I32: 9,
  F32: 11,
  I64: 13,
};

/** The Rust crate's bound; a larger length means a corrupt file rather than a big header. */
export const MAX_HEADER_BYTES = 100_000_000;
const PREFIX_BYTES = 8;
const METADATA_KEY = '__metadata__';

export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

export interface ParsedHeader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: ReadonlyMap<string, TensorEntry>;
  /** Byte offset where the data section starts (8 + header length). */
  readonly dataStart: number;
}

/** Reads the 8-byte little-endian header length; throws unless it can be a valid header. */
export function headerLength(path: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < PREFIX_BYTES || prefix.byteLength < PREFIX_BYTES) {
    throw fail(path, `file is ${fileSize} bytes, too short for the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw fail(path, `header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const len = Number(n);
  if (len + PREFIX_BYTES > fileSize) {
    throw fail(path, `header length ${len} runs past the end of the file (${fileSize} bytes)`);
  }
  return len;
}

/**
 * Validates a header as huggingface/safetensors does: tensors sorted by offsets must tile the
 * data section exactly (first at 0, each starting where the previous ends, the last ending at the
 * end of the file) and each one's byte length must be product(shape) × dtype size.
 */
export function parseHeader(path: string, headerBytes: Uint8Array, fileSize: number): ParsedHeader {
  const dataStart = PREFIX_BYTES + headerBytes.byteLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw fail(path, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(path, `header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw fail(path, `header is not a JSON object (got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json})`);
  }
  const record = json as Record<string, unknown>;

  const metadata = parseMetadata(path, record[METADATA_KEY]);
  const raw: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(record)) {
    if (name === METADATA_KEY) continue;
    raw.push({ name, ...parseTensorInfo(path, name, value) });
  }

  // Same order as the Rust crate: by (begin, end), so empty tensors sit before a tensor at their offset.
  raw.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataBytes = fileSize - dataStart;
  let cursor = 0;
  let previous: string | null = null;
  const entries = new Map<string, TensorEntry>();
  for (const t of raw) {
    const where = `tensor "${t.name}"`;
    if (t.end > dataBytes) {
      throw fail(path, `${where}: data_offsets [${t.begin}, ${t.end}] run past the data section (${dataBytes} bytes)`);
    }
    if (t.begin < cursor) {
      throw fail(path, `${where}: data_offsets [${t.begin}, ${t.end}] overlap tensor "${previous}", which ends at ${cursor}`);
    }
    if (t.begin > cursor) {
      const after = previous === null ? 'the start of the data section' : `tensor "${previous}" (ends at ${cursor})`;
      throw fail(path, `${where}: gap of ${t.begin - cursor} bytes between ${after} and its data_offsets [${t.begin}, ${t.end}]`);
    }
    const count = t.shape.reduce((p, d) => p * d, 1);
    const want = count * DTYPE_BYTES[t.dtype];
    if (!Number.isSafeInteger(want)) throw fail(path, `${where}: shape [${t.shape.join(', ')}] is too large`);
    if (t.end - t.begin !== want) {
      throw fail(
        path,
        `${where}: data_offsets [${t.begin}, ${t.end}] hold ${t.end - t.begin} bytes but ${t.dtype} ` +
          `[${t.shape.join(', ')}] needs ${want}`,
      );
    }
    cursor = t.end;
    previous = t.name;
    entries.set(t.name, Object.freeze({ name: t.name, dtype: t.dtype, shape: Object.freeze(t.shape), begin: dataStart + t.begin, end: dataStart + t.end }));
  }
  if (cursor !== dataBytes) {
    const last = previous === null ? 'no tensor' : `the last tensor ("${previous}") ends at ${cursor}`;
    throw fail(path, `tensors do not cover the data section: ${last}, but the data section is ${dataBytes} bytes`);
  }
  return { metadata, entries, dataStart };
}

function parseMetadata(path: string, value: unknown): Readonly<Record<string, string>> {
  // The Rust crate reads __metadata__ as Option<HashMap<String, String>>, so null means absent.
  if (value === undefined || value === null) return Object.freeze({});
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw fail(path, `${METADATA_KEY} must be an object of strings, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw fail(path, `${METADATA_KEY} entry "${k}" must be a string, got ${v === null ? 'null' : typeof v}`);
    out[k] = v;
  }
  return Object.freeze(out);
}

function parseTensorInfo(
  path: string,
  name: string,
  value: unknown,
): { dtype: SafetensorsDType; shape: number[]; begin: number; end: number } {
  const where = `tensor "${name}"`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail(path, `${where}: entry must be an object with dtype, shape and data_offsets`);
  }
  const info = value as Record<string, unknown>;
  const { dtype, shape, data_offsets: offsets } = info;
  if (!isSafetensorsDType(dtype)) {
    throw fail(path, `${where}: unsupported dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw fail(path, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw fail(path, `${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw fail(path, `${where}: data_offsets [${begin}, ${end}] are reversed (end before begin)`);
  return { dtype, shape: [...(shape as number[])], begin, end };
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** An error naming the file; messages name the tensor themselves where one is at fault. */
export function fail(path: string, what: string, cause?: unknown): SafetensorsError {
  return new SafetensorsError(`${path}: ${what}`, cause === undefined ? undefined : { cause });
}

// ---- writing ----

export interface PlannedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** Offset inside the data section. */
  readonly offset: number;
}

export interface HeaderPlan {
  /** The 8-byte length followed by the space-padded JSON header. */
  readonly prefix: Uint8Array;
  /** Tensors in the order their data follows the header. */
  readonly tensors: readonly PlannedTensor[];
  readonly fileSize: number;
}

/**
 * Lays tensors out as the Python library does (dtype rank descending, then name), with
 * __metadata__ first and the header padded with spaces to a multiple of 8 bytes.
 */
export function planHeader(
  path: string,
  tensors: readonly { name: string; dtype: SafetensorsDType; shape: readonly number[] }[],
  metadata?: Readonly<Record<string, string>>,
): HeaderPlan {
  const seen = new Set<string>();
  for (const t of tensors) {
    const where = `tensor "${t.name}"`;
    if (t.name === METADATA_KEY) throw fail(path, `cannot write a tensor named ${METADATA_KEY}`);
    if (seen.has(t.name)) throw fail(path, `${where} given twice`);
    seen.add(t.name);
    if (!isSafetensorsDType(t.dtype)) throw fail(path, `${where}: unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => isIndex(d))) {
      throw fail(path, `${where}: shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
    }
  }
  const ordered = [...tensors].sort(
    (a, b) => DTYPE_WRITE_RANK[b.dtype] - DTYPE_WRITE_RANK[a.dtype] || compareCodeUnits(a.name, b.name),
  );
  // Built by hand: a JS object would move integer-like keys ("0", "12") to the front.
  const fields: string[] = [];
  if (metadata !== undefined) {
    const meta: string[] = [];
    for (const k of Object.keys(metadata).sort(compareCodeUnits)) {
      const v = metadata[k];
      if (typeof v !== 'string') throw fail(path, `${METADATA_KEY} entry "${k}" must be a string`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(',')}}`);
  }
  let offset = 0;
  const planned: PlannedTensor[] = [];
  for (const t of ordered) {
    const byteLength = t.shape.reduce((p, d) => p * d, 1) * DTYPE_BYTES[t.dtype];
    const info = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + byteLength] };
    fields.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    planned.push({ name: t.name, dtype: t.dtype, shape: t.shape, byteLength, offset });
    offset += byteLength;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const prefix = new Uint8Array(PREFIX_BYTES + padded).fill(0x20);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, PREFIX_BYTES);
  return { prefix, tensors: planned, fileSize: prefix.byteLength + offset };
}

// Rust orders Strings by bytes; UTF-16 code-unit order agrees except around astral characters,
// which tensor names do not use.
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

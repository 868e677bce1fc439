import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DTYPE_BYTES,
  SafetensorsError,
  SafetensorsFile,
  writeSafetensors,
  writeSafetensorsStreaming,
  type SafetensorsDType,
  type TensorChunk,
  type TensorToWrite,
} from '../../runtime/safetensors.js';
import { bf16BitsToF32, f16BitsToF32, f32ToF16Bits, toF16Array } from '../../runtime/half.js';
import { fromRoot } from '../../runtime/paths.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { scratchDir } from '../support/safetensors-data.js';

const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;

function u32s(n: number, seed: number): Uint32Array {
  const v = seededValues(n, seed, 0, 2 ** 32);
  return Uint32Array.from(v, (x) => Math.floor(x) >>> 0);
}

/** Float32 bit patterns that probe f16 rounding: ties, subnormals, overflow, specials, and random bits. */
function f32Probes(): Float32Array {
  const special = [
    0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, Infinity, -Infinity, NaN,
    2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -25, 5 * 2 ** -25, 2 ** -14, 2 ** -14 - 2 ** -25,
    1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 1e-8, 1e-40, -1e-40, 2047.5, 2049, 0.1, -0.3,
  ];
  const random = new Float32Array(u32s(4000, 7).buffer);
  const scaled = seededValues(2000, 8, -1, 1).map((x, i) => x * 2 ** ((i % 50) - 30));
  return Float32Array.from([...special, ...random, ...scaled]);
}

const allHalfBits = () => Uint16Array.from({ length: 65536 }, (_, i) => i);

const isF16NaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isF32NaN = (b: number) => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;

t.test('writer matches the reference library byte for byte', async (t) => {
  const dir = scratchDir(t);
  const enc = (s: string) => new TextEncoder().encode(s);
  const le64 = (n: number) => new Uint8Array(BigUint64Array.of(BigInt(n)).buffer);
  const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

  // huggingface/safetensors' own serialization test vectors.
  const path = join(dir, 'attn.safetensors');
  const data = Float32Array.of(0, 1, 2, 3, 4, 5);
  await writeSafetensors(path, { 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } });
  const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  t.same([...readFileSync(path)], [...cat(le64(64), enc(json), new Uint8Array(data.buffer))], 'attn.0 vector');

  await writeSafetensors(path, {});
  t.same([...readFileSync(path)], [...cat(le64(8), enc('{}      '))], 'empty file vector');
  await writeSafetensors(path, {}, { framework: 'pt' });
  t.same([...readFileSync(path)], [...cat(le64(40), enc('{"__metadata__":{"framework":"pt"}}     '))], 'metadata-only vector');

  // Files the Python library wrote: reading every tensor and writing it back must reproduce them.
  const originals = [
    'tests/fixtures/tiny-sd/golden/pipeline.safetensors',
    'tests/fixtures/tiny-sd/model/text_encoder/model.safetensors',
    'tests/fixtures/torch_randn.safetensors',
  ];
  for (const rel of originals) {
    const src = fromRoot(rel);
    if (!existsSync(src)) {
      t.fail(`${rel} missing: run node scripts/unpack-fixtures.js`);
      continue;
    }
    const st = await SafetensorsFile.open(src);
    const tensors: Record<string, TensorToWrite> = {};
    for (const e of st.entries.values()) tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: await st.readRaw(e.name) };
    const hasMeta = Object.keys(st.metadata).length > 0;
    await st.close();
    const copy = join(dir, 'copy.safetensors');
    await writeSafetensors(copy, tensors, hasMeta ? st.metadata : undefined);
    t.ok(readFileSync(copy).equals(readFileSync(src)), `rewriting ${rel} reproduces it`);
  }
});

t.test('round trip of every dtype, metadata, empty and scalar tensors', async (t) => {
  const dir = scratchDir(t);
  const path = join(dir, 'all.safetensors');
  const f32 = seededValues(15, 1);
  const f16 = toF16Array(seededValues(7, 2));
  const bf16 = Uint16Array.of(0x3f80, 0xc000, 0x0001, 0x7f80, 0x4049, 0x8000);
  const i32 = Int32Array.of(0, -1, 2147483647, -2147483648);
  const i64 = BigInt64Array.of(0n, -5n, 49406n);
  const u8 = Uint8Array.of(0, 1, 127, 255, 3);
  const bool = Uint8Array.of(1, 0, 0, 1);
  const tensors: Record<string, TensorToWrite> = {
    'w.f32': { dtype: 'F32', shape: [3, 5], data: f32 },
    'w.f16': { dtype: 'F16', shape: [7], data: f16 },
    'w.bf16': { dtype: 'BF16', shape: [2, 3], data: bf16 },
    ids32: { dtype: 'I32', shape: [4], data: i32 },
    ids64: { dtype: 'I64', shape: [1, 3], data: i64 },
    bytes: { dtype: 'U8', shape: [5], data: u8 },
    mask: { dtype: 'BOOL', shape: [2, 2], data: bool },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    scalar: { dtype: 'F32', shape: [], data: Float32Array.of(2.5) },
    '10': { dtype: 'F16', shape: [1], data: Uint16Array.of(0x3c00) },
    '9': { dtype: 'F16', shape: [1], data: Uint16Array.of(0x4000) },
  };
  await writeSafetensors(path, tensors, { format: 'pt', note: 'naïve — ✓' });

  const raw = readFileSync(path);
  const n = Number(raw.readBigUInt64LE(0));
  t.equal(n % 8, 0, 'header length is a multiple of 8');
  const text = raw.subarray(8, 8 + n).toString('utf8');
  t.match(text, /} *$/, 'padded with spaces');
  const keys = Object.keys(JSON.parse(text));
  // JSON.parse reorders integer-like keys, so check the order in the text itself.
  const order = ['__metadata__', 'ids64', 'empty', 'scalar', 'w.f32', 'ids32', 'w.bf16', '10', '9', 'w.f16', 'bytes', 'mask'];
  const positions = order.map((k) => text.indexOf(`"${k}":`));
  t.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)), 'dtype rank descending, then name');
  t.equal(keys.length, order.length);

  const st = await SafetensorsFile.open(path);
  t.same(st.metadata, { format: 'pt', note: 'naïve — ✓' });
  t.equal(st.entries.size, 11);
  for (const [name, w] of Object.entries(tensors)) {
    const e = st.entry(name);
    t.equal(e.dtype, w.dtype, `${name} dtype`);
    t.same(e.shape, w.shape, `${name} shape`);
    t.equal(e.end - e.begin, w.data.byteLength, `${name} length`);
    t.equal(e.begin % DTYPE_BYTES[e.dtype], 0, `${name} aligned`);
    const bytes = await st.readRaw(name);
    t.same([...bytes], [...new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength)], `${name} bytes`);
  }
  t.same([...(await st.readFloat32('w.f32'))], [...f32]);
  t.same([...(await st.readFloat32('w.f16'))], [...f16].map(f16BitsToF32));
  t.same([...(await st.readFloat32('w.bf16'))], [...bf16].map(bf16BitsToF32));
  t.same([...(await st.readFloat32('scalar'))], [2.5]);
  t.equal((await st.readFloat32('empty')).length, 0);
  const got32 = await st.readInts('ids32');
  t.ok(got32 instanceof Int32Array);
  t.same([...got32], [...i32]);
  const got64 = await st.readInts('ids64');
  t.ok(got64 instanceof Int32Array, 'I64 reads as Int32Array');
  t.same([...got64], [0, -5, 49406]);
  t.same([...(await st.readInts('bytes'))], [...u8]);
  const mask = await st.readInts('mask');
  t.ok(mask instanceof Uint8Array);
  t.same([...mask], [...bool]);

  const expectError = async (file: string, what: string, fn: () => Promise<unknown>, ...says: string[]) => {
    const err = await fn().then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof SafetensorsError, `${what} throws SafetensorsError`);
    const message = err instanceof Error ? err.message : '';
    for (const s of [file, ...says]) t.ok(message.includes(s), `${what}: mentions ${s}`, { message });
  };
  await expectError('all.safetensors', 'missing tensor', async () => st.entry('nope'), '"nope"');
  await expectError('all.safetensors', 'float read of ints', () => st.readFloat32('ids32'), '"ids32"', 'I32');
  await expectError('all.safetensors', 'int read of floats', () => st.readInts('w.f32'), '"w.f32"', 'F32');
  await st.close();

  const big = join(dir, 'big-ints.safetensors');
  await writeSafetensors(big, { wide: { dtype: 'I64', shape: [2], data: BigInt64Array.of(1n, 2n ** 40n) } });
  const sb = await SafetensorsFile.open(big);
  await expectError('big-ints.safetensors', 'I64 overflow', () => sb.readInts('wide'), '"wide"', '32 bits');
  await sb.close();
});

t.test('streaming writer: chunks, holes, and atomic failure', async (t) => {
  const dir = scratchDir(t);
  const path = join(dir, 'stream.safetensors');
  const n = 10_000;
  const want = new Uint16Array(n);
  for (let i = 0; i < 100; i++) want[i] = i + 1;
  want[n - 1] = 0x3c00;
  await writeSafetensorsStreaming(
    path,
    {
      sparse: {
        dtype: 'F16',
        shape: [100, 100],
        *chunks(): Generator<TensorChunk> {
          yield want.subarray(0, 50);
          yield want.subarray(50, 100);
          yield { zeros: (n - 101) * 2 };
          yield want.subarray(n - 1);
        },
      },
      tail: {
        dtype: 'U8',
        shape: [3000],
        async *chunks(): AsyncGenerator<TensorChunk> {
          yield { zeros: 3000 };
        },
      },
    },
    { kind: 'streamed' },
  );
  const st = await SafetensorsFile.open(path);
  const bytes = await st.readRaw('sparse');
  t.same([...new Uint16Array(bytes.buffer)], [...want], 'streamed F16 bytes');
  t.ok((await st.readRaw('tail')).every((b) => b === 0), 'trailing hole reads as zeros');
  t.same(st.metadata, { kind: 'streamed' });
  await st.close();

  // Failures leave the previous file untouched and no temporary behind.
  const before = readFileSync(path);
  const attempts: [string, Record<string, TensorToWrite>, string][] = [
    ['short data', { w: { dtype: 'F32', shape: [4], data: new Float32Array(3) } }, 'data has 12 bytes but F32 [4] needs 16'],
    ['long data', { w: { dtype: 'F32', shape: [2], data: new Float32Array(3) } }, 'longer than the 8 bytes'],
    ['bad shape', { w: { dtype: 'F32', shape: [-2], data: new Float32Array(0) } }, 'shape'],
    ['bad dtype', { w: { dtype: 'F64' as SafetensorsDType, shape: [1], data: new Float64Array(1) } }, 'unsupported dtype'],
  ];
  for (const [what, tensors, says] of attempts) {
    const err = await writeSafetensors(path, tensors).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof SafetensorsError && err.message.includes('"w"') && err.message.includes(says), `${what} rejected`, {
      message: (err as Error | null)?.message,
    });
  }
  const thrown = await writeSafetensorsStreaming(path, {
    w: {
      dtype: 'F32',
      shape: [4],
      *chunks() {
        yield new Float32Array(2);
        throw new Error('producer failed');
      },
    },
  }).then(
    () => null,
    (e: unknown) => e,
  );
  t.equal((thrown as Error | null)?.message, 'producer failed', 'producer errors propagate');
  t.ok(readFileSync(path).equals(before), 'target untouched by failed writes');
  t.same(readdirSync(dir), ['stream.safetensors'], 'no temporary files left');
});

interface GpuCase {
  readonly name: string;
  readonly src: 'F32' | 'F16' | 'BF16';
  readonly bits: Uint32Array | Uint16Array;
}

/** The bit pattern readToGpu must produce for source bits b, or 'nan' where any NaN will do. */
function expectedBits(src: GpuCase['src'], dst: FloatDType, b: number): number | 'nan' {
  const value = src === 'F32' ? new Float32Array(Uint32Array.of(b).buffer)[0]! : src === 'F16' ? f16BitsToF32(b) : bf16BitsToF32(b);
  const srcNaN = src === 'F32' ? isF32NaN(b) : src === 'F16' ? isF16NaN(b) : isF32NaN(b << 16);
  if (dst === 'f32') {
    if (src === 'F32') return b; // a plain copy keeps NaN payloads
    if (src === 'BF16') return (b << 16) >>> 0;
    return srcNaN ? 'nan' : f32Bits(value);
  }
  if (src === 'F16') return b;
  return srcNaN ? 'nan' : f32ToF16Bits(value);
}

t.test('readToGpu converts exactly, in one chunk and in many', async (t) => {
  const rt = await testRuntime();
  const dir = scratchDir(t);
  const path = join(dir, 'gpu.safetensors');
  const cases: GpuCase[] = [
    { name: 'f32-probes', src: 'F32', bits: new Uint32Array(f32Probes().buffer) },
    { name: 'f16-all', src: 'F16', bits: allHalfBits() },
    { name: 'bf16-all', src: 'BF16', bits: allHalfBits() },
    { name: 'f32-odd', src: 'F32', bits: new Uint32Array(f32Probes().buffer.slice(0, 4 * 1001)) },
    { name: 'f16-odd', src: 'F16', bits: Uint16Array.from({ length: 1001 }, (_, i) => (i * 65.537) & 0xffff) },
    { name: 'bf16-odd', src: 'BF16', bits: Uint16Array.from({ length: 1001 }, (_, i) => (i * 65.537 + 11) & 0xffff) },
    // Every tail length of the kernel's 8-element octets.
    ...Array.from({ length: 17 }, (_, k): GpuCase[] => [
      { name: `f32-${k + 1}`, src: 'F32', bits: new Uint32Array(f32Probes().buffer.slice(40, 40 + 4 * (k + 1))) },
      { name: `f16-${k + 1}`, src: 'F16', bits: Uint16Array.from({ length: k + 1 }, (_, i) => 0x3c01 + 977 * i) },
      { name: `bf16-${k + 1}`, src: 'BF16', bits: Uint16Array.from({ length: k + 1 }, (_, i) => 0xbf80 - 311 * i) },
    ]).flat(),
    { name: 'scalar', src: 'BF16', bits: Uint16Array.of(0x3f81) },
    { name: 'empty', src: 'F16', bits: new Uint16Array(0) },
  ];
  const tensors: Record<string, TensorToWrite> = {};
  for (const c of cases) tensors[c.name] = { dtype: c.src, shape: c.name === 'scalar' ? [] : [c.bits.length], data: c.bits };
  await writeSafetensors(path, tensors);

  // 352-byte chunks: many chunks per tensor, none a power of two, the last one odd.
  for (const chunkBytes of [undefined, 352]) {
    const st = await SafetensorsFile.open(path, chunkBytes === undefined ? {} : { chunkBytes });
    for (const c of cases) {
      if (chunkBytes !== undefined && c.bits.length > 2000) continue;
      for (const dtype of ['f32', 'f16'] as FloatDType[]) {
        const label = `${c.name} ${c.src}→${dtype} chunk ${chunkBytes ?? 'default'}`;
        const out = await st.readToGpu(rt, c.name, dtype);
        t.same(out.shape, st.entry(c.name).shape, `${label}: shape`);
        t.equal(out.dtype, dtype);
        const n = c.bits.length;
        // Read the padding too: an odd f16 tail must leave the rest of its word zero.
        const padded = dtype === 'f16' ? Math.ceil(n / 2) * 4 : n * 4;
        const raw = padded === 0 ? new ArrayBuffer(0) : await rt.readBytes(out.buffer, padded);
        const got = dtype === 'f32' ? new Uint32Array(raw) : new Uint16Array(raw);
        let bad = 0;
        let firstBad = '';
        for (let i = 0; i < n; i++) {
          const want = expectedBits(c.src, dtype, c.bits[i]!);
          const g = got[i]!;
          const ok = want === 'nan' ? (dtype === 'f32' ? isF32NaN(g) : isF16NaN(g)) : g === want;
          if (!ok && bad++ === 0) firstBad = `[${i}] src 0x${c.bits[i]!.toString(16)} got 0x${g.toString(16)} want ${want === 'nan' ? 'NaN' : `0x${want.toString(16)}`}`;
        }
        t.equal(bad, 0, `${label}: ${n} elements bit-exact ${firstBad}`);
        if (dtype === 'f16' && n % 2 === 1) t.equal(got[n], 0, `${label}: odd tail padding zero`);
        out.dispose();
      }
    }
    await st.close();
  }
  await rt.sync();
});

t.test('fixture checkpoints open and load', async (t) => {
  const rt = await testRuntime();
  const golden = fromRoot('tests', 'fixtures', 'tiny-sd', 'golden');
  const unetPath = fromRoot('tests', 'fixtures', 'tiny-sd', 'model', 'unet', 'diffusion_pytorch_model.safetensors');
  if (!existsSync(unetPath)) {
    t.fail('tests/fixtures/tiny-sd missing: run node scripts/unpack-fixtures.js');
    return;
  }
  for (const file of readdirSync(golden).filter((f) => f.endsWith('.safetensors'))) {
    const st = await SafetensorsFile.open(join(golden, file));
    t.ok(st.entries.size > 0, `golden/${file}: ${st.entries.size} tensors`);
    await st.close();
  }

  const st = await SafetensorsFile.open(unetPath);
  t.equal(st.metadata.format, 'pt');
  const start = performance.now();
  let elements = 0;
  let mismatches = 0;
  let checked = 0;
  for (const e of st.entries.values()) {
    t.equal(e.dtype, 'F16');
    const out = await st.readToGpu(rt, e.name, 'f16');
    elements += out.size;
    // Compare a spread of tensors with the host path (every 50th, both dtypes).
    if (checked++ % 50 === 0) {
      const want = await st.readFloat32(e.name);
      const wide = await st.readToGpu(rt, e.name, 'f32');
      const [a, b] = [await rt.read(out), await rt.read(wide)];
      for (let i = 0; i < want.length; i++) if (a[i] !== want[i] || b[i] !== want[i]) mismatches++;
      wide.dispose();
    }
    out.dispose();
  }
  await rt.sync();
  t.equal(mismatches, 0, 'GPU loads equal host conversion');
  t.comment(`unet: ${st.entries.size} tensors, ${elements} elements to f16 in ${(performance.now() - start).toFixed(0)} ms`);
  await st.close();
});

// A ~4 GB synthetic F16 checkpoint, written sparse and streamed tensor by tensor onto the GPU,
// while the host's peak resident memory stays under 1 GB.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensorsStreaming, type TensorChunk, type TensorToStream } from '../../runtime/safetensors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../runtime/half.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { testRuntime } from '../support/runtime.js';
import { scratchDir } from '../support/safetensors-data.js';

const BIG_TENSORS = 30;
const BIG_SHAPE = [8192, 8192]; // 128 MiB of F16: two 64 MiB chunks, lavapipe's binding limit as f16
const WIDE_SHAPE = [4096, 4096]; // loaded as f32 through the conversion kernel
const RSS_LIMIT = 2 ** 30;

/** Known values at the start, across the first chunk boundary and at the end; zeros elsewhere. */
interface Marks {
  readonly at: number;
  readonly values: readonly number[];
}

function marksFor(index: number, n: number): Marks[] {
  const v = (k: number) => (index + 1) * 0.5 + k * 0.125 - 1; // exact in f16
  const boundary = Math.min((64 * 2 ** 20) / 2, n >> 1); // element at the first 64 MiB chunk boundary
  return [
    { at: 0, values: [0, 1, 2, 3, 4, 5, 6, 7].map(v) },
    { at: boundary - 4, values: [10, 11, 12, 13, 14, 15, 16, 17].map(v) },
    { at: n - 6, values: [20, 21, 22, 23, 24, 25].map(v) },
  ];
}

function sparseSource(index: number, shape: number[]): TensorToStream {
  const n = shape[0]! * shape[1]!;
  return {
    dtype: 'F16',
    shape,
    *chunks(): Generator<TensorChunk> {
      let at = 0;
      for (const m of marksFor(index, n)) {
        if (m.at > at) yield { zeros: (m.at - at) * 2 };
        yield Uint16Array.from(m.values, f32ToF16Bits);
        at = m.at + m.values.length;
      }
      if (at < n) yield { zeros: (n - at) * 2 };
    },
  };
}

function peakRssFromProc(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

t.test('a 4 GB F16 checkpoint streams onto the GPU in bounded host memory', async (t) => {
  const rt = await testRuntime();
  const dir = scratchDir(t, 'safetensors-large-');
  const path = join(dir, 'synthetic-4gb.safetensors');

  let sampledPeak = process.memoryUsage().rss;
  const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss)), 20);
  t.teardown(() => clearInterval(sampler));

  const tensors: Record<string, TensorToStream> = {};
  const plan: { name: string; index: number; dtype: FloatDType }[] = [];
  for (let i = 0; i < BIG_TENSORS; i++) {
    const name = `down.${i}.weight`;
    tensors[name] = sparseSource(i, BIG_SHAPE);
    plan.push({ name, index: i, dtype: 'f16' });
  }
  tensors['mid.proj.weight'] = sparseSource(BIG_TENSORS, WIDE_SHAPE);
  plan.push({ name: 'mid.proj.weight', index: BIG_TENSORS, dtype: 'f32' });

  let start = performance.now();
  await writeSafetensorsStreaming(path, tensors, { format: 'pt' });
  const size = statSync(path).size;
  t.ok(size > 4e9, `file is ${(size / 1e9).toFixed(2)} GB`);
  t.comment(`wrote ${(size / 1e9).toFixed(2)} GB (sparse) in ${(performance.now() - start).toFixed(0)} ms`);

  start = performance.now();
  const st = await SafetensorsFile.open(path);
  let mismatches = 0;
  let loaded = 0;
  for (const { name, index, dtype } of plan) {
    const out = await st.readToGpu(rt, name, dtype);
    const width = dtype === 'f32' ? 4 : 2;
    for (const m of [...marksFor(index, out.size), { at: out.size >> 2, values: [0, 0, 0, 0] }]) {
      // readBytes copies whole words: widen the window to even element offsets.
      const first = m.at & ~1;
      const count = Math.ceil((m.at + m.values.length - first) / 2) * 2;
      const raw = await rt.readBytes(out.buffer, count * width, first * width);
      const got = dtype === 'f32' ? [...new Float32Array(raw)] : [...new Uint16Array(raw)].map(f16BitsToF32);
      m.values.forEach((want, k) => {
        if (got[m.at - first + k] !== want) mismatches++;
      });
    }
    loaded += out.byteLength;
    out.dispose();
  }
  await st.close();
  await rt.sync();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);

  t.equal(mismatches, 0, 'spot-checked values (start, across the chunk boundary, end, zeros) match');
  const procPeak = peakRssFromProc();
  const peak = Math.max(sampledPeak, procPeak ?? 0);
  t.comment(
    `loaded ${plan.length} tensors (${(loaded / 2 ** 30).toFixed(2)} GiB on the GPU) in ${seconds.toFixed(1)} s ` +
      `(${(size / 2 ** 20 / seconds).toFixed(0)} MiB/s); peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB ` +
      `(sampled ${(sampledPeak / 2 ** 20).toFixed(0)} MiB, VmHWM ${procPeak === null ? 'n/a' : `${(procPeak / 2 ** 20).toFixed(0)} MiB`})`,
  );
  t.ok(peak < RSS_LIMIT, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB < 1 GiB`);
});

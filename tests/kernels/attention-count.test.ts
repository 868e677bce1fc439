// Attention over fixed-capacity inputs whose real length is a count on the GPU (CA-ToMe's merged
// sequence): against a plain reference over the first `count` tokens, with NaN and ∞ in the rows
// past the counts to show they never reach the output, and rows past the query count left as the
// output buffer held them.

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import {
  attentionFragments,
  attentionVariantName,
  attentionVariantProblem,
  attentionWith,
  portableVariant,
  type AttentionProblem,
  type AttentionVariant,
  type MatrixVariant,
} from '../../kernels/attention.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';

interface Case {
  readonly batch: number;
  readonly heads: number;
  readonly d: number;
  /** Capacity: query and key rows of the tensors. */
  readonly n: number;
  /** Real query rows and keys (counts past n are clamped to n). */
  readonly queries: number;
  readonly keys: number;
  readonly causal?: boolean;
}

const SENTINEL = 7.25;

/** softmax(q·kᵀ·scale)·v over the first `keys` keys, for the first `queries` rows; SENTINEL after. */
function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, scale: number): Float32Array {
  const w = c.heads * c.d;
  const nq = Math.min(c.queries, c.n);
  const nk = Math.min(c.keys, c.n);
  const out = new Float32Array(c.batch * c.n * w).fill(SENTINEL);
  for (let b = 0; b < c.batch; b++) {
    for (let h = 0; h < c.heads; h++) {
      for (let i = 0; i < nq; i++) {
        const qo = (b * c.n + i) * w + h * c.d;
        const s: number[] = [];
        for (let j = 0; j < nk; j++) {
          if (c.causal && j > i) continue;
          const ko = (b * c.n + j) * w + h * c.d;
          let dot = 0;
          for (let x = 0; x < c.d; x++) dot += q[qo + x]! * k[ko + x]!;
          s.push(dot * scale);
        }
        const max = Math.max(...s);
        const p = s.map((x) => Math.exp(x - max));
        const sum = p.reduce((a, x) => a + x, 0);
        for (let x = 0; x < c.d; x++) {
          let acc = 0;
          p.forEach((pj, j) => (acc += pj * v[(b * c.n + j) * w + h * c.d + x]!));
          out[qo + x] = acc / sum;
        }
      }
    }
  }
  return out;
}

/** Inputs with NaN / ∞ in every row past the counts (what a fixed-capacity tensor may hold there). */
function inputs(c: Case, dtype: FloatDType): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const w = c.heads * c.d;
  let q = seededValues(c.batch * c.n * w, 11 + c.d, -2, 2);
  let k = seededValues(c.batch * c.n * w, 23 + c.n, -2, 2);
  let v = seededValues(c.batch * c.n * w, 37 + c.queries);
  if (dtype === 'f16') [q, k, v] = [roundToF16(q), roundToF16(k), roundToF16(v)];
  for (let e = 0; e < q.length; e++) {
    const row = Math.floor(e / w) % c.n;
    if (row >= c.queries) q[e] = NaN;
    if (row >= c.keys) {
      k[e] = Infinity;
      v[e] = NaN;
    }
  }
  return { q, k, v };
}

const name = (c: Case) => `B${c.batch} H${c.heads} d${c.d} n${c.n} q${c.queries} k${c.keys}${c.causal ? ' causal' : ''}`;

interface Asserts {
  ok(value: boolean, message: string): unknown;
}

async function check(t: Asserts, rt: Runtime, c: Case, dtype: FloatDType, variant?: AttentionVariant): Promise<void> {
  const { q, k, v } = inputs(c, dtype);
  const w = c.heads * c.d;
  const want = reference(c, q, k, v, 1 / Math.sqrt(c.d));
  let ran = '';
  const got = await rt.read(
    rt.tidy(() => {
      const shape = [c.batch, c.n, w];
      // the counts sit at elements 1 and 2, behind an unrelated value
      const counts = rt.upload(Uint32Array.from([12345, c.queries, c.keys]), [3], 'u32');
      const out = rt.upload(new Float32Array(c.batch * c.n * w).fill(SENTINEL), shape, dtype);
      const r = attentionWith(
        rt,
        rt.upload(q, shape, dtype),
        rt.upload(k, shape, dtype),
        rt.upload(v, shape, dtype),
        { heads: c.heads, causal: c.causal, out, validQueries: { tensor: counts, index: 1 }, validKeys: { tensor: counts, index: 2 } },
        variant,
      );
      ran = attentionVariantName(r.variant);
      return r.out;
    }),
  );
  const rows = Math.min(c.queries, c.n) * w;
  const valid = (a: Float32Array) => Float32Array.from({ length: c.batch * rows }, (_, i) => a[Math.floor(i / rows) * c.n * w + (i % rows)]!);
  const err = rows === 0 ? 0 : maxRelError(valid(got), valid(want));
  t.ok(err <= KERNEL_TOLERANCE[dtype], `${name(c)} ${dtype} [${ran}] rows below the count: max rel error ${err.toExponential(2)}`);
  const untouched = got.every((x, i) => Math.floor(i / w) % c.n < c.queries || x === SENTINEL);
  t.ok(untouched, `${name(c)} ${dtype} [${ran}] rows past the count left as they were`);
}

const cases: Case[] = [
  { batch: 2, heads: 3, d: 8, n: 37, queries: 20, keys: 20 },
  { batch: 2, heads: 3, d: 8, n: 37, queries: 37, keys: 37 },
  { batch: 1, heads: 2, d: 40, n: 70, queries: 33, keys: 33 },
  { batch: 1, heads: 1, d: 4, n: 5, queries: 3, keys: 3 },
  { batch: 1, heads: 2, d: 16, n: 150, queries: 97, keys: 65 },
  { batch: 2, heads: 1, d: 80, n: 33, queries: 1, keys: 1 },
  { batch: 1, heads: 2, d: 16, n: 13, queries: 0, keys: 5 },
  { batch: 1, heads: 2, d: 16, n: 29, queries: 40, keys: 99 },
  { batch: 1, heads: 2, d: 16, n: 30, queries: 21, keys: 21, causal: true },
];

t.test('attention with GPU token counts matches attention over the first count tokens', async (t) => {
  const rt = await testRuntime();
  const dtypes: FloatDType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) for (const c of cases) await check(t, rt, c, dtype);
});

t.test('portable kernel in f16 with GPU token counts', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) return void t.comment('skipped: no shader-f16');
  for (const c of cases.slice(0, 5)) await check(t, rt, c, 'f16', portableVariant(problemOf(c)));
});

const problemOf = (c: Case, countedKeys = true): AttentionProblem => ({
  batch: c.batch,
  nq: c.n,
  nk: c.n,
  heads: c.heads,
  headDim: c.d,
  dtype: 'f16',
  causal: c.causal ?? false,
  scale: 1 / Math.sqrt(c.d),
  countedKeys,
});

t.test('tensor-core kernel (staged K/V; hardware or emulated fragments) with GPU token counts', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16 || !rt.features.subgroups) return void t.comment('skipped: needs shader-f16 and subgroups');
  const hardware = attentionFragments(rt)[0];
  const frag = hardware ? { M: hardware.M, N: hardware.N, K: hardware.K } : { M: 16, N: 16, K: 16 };
  const emulated = !hardware;
  const base = { kind: 'mma', frag, emulated, prefetch: true, kv: 'staged' } as const;
  const variants: MatrixVariant[] = [
    { ...base, subgroups: 4, rowFrags: 1, keyBlock: 32 },
    { ...base, subgroups: 1, rowFrags: 32 / frag.M, keyBlock: 64, prefetch: false, slack: 0 },
  ];
  // Emulation compiles slowly on a CPU: a few shapes there, more on hardware fragments.
  const shapes: Case[] = [
    { batch: 1, heads: 2, d: 40, n: 70, queries: 33, keys: 33 },
    { batch: 2, heads: 1, d: 16, n: 150, queries: 97, keys: 65 },
    { batch: 1, heads: 2, d: 16, n: 13, queries: 0, keys: 5 },
    ...(emulated ? [] : [{ batch: 1, heads: 2, d: 64, n: 77, queries: 50, keys: 50, causal: true }]),
  ];
  t.comment(`fragments ${frag.M}x${frag.N}x${frag.K}${emulated ? ' (emulated)' : ''}`);
  for (const [i, c] of shapes.entries()) {
    const usable = variants.filter((v) => attentionVariantProblem(rt, problemOf(c), v) === null);
    for (const v of emulated ? [usable[i % usable.length]!] : usable) await check(t, rt, c, 'f16', v);
  }
});

t.test('direct K/V refuses a GPU key count (it would read whole key blocks)', async (t) => {
  const rt = await testRuntime();
  const v: MatrixVariant = { kind: 'mma', frag: { M: 16, N: 16, K: 16 }, emulated: true, prefetch: false, kv: 'direct', subgroups: 4, rowFrags: 1, keyBlock: 32 };
  const c: Case = { batch: 1, heads: 2, d: 16, n: 64, queries: 10, keys: 10 };
  t.match(attentionVariantProblem(rt, problemOf(c), v), /GPU count/);
  if (rt.features.f16 && rt.features.subgroups) t.equal(attentionVariantProblem(rt, problemOf(c, false), v), null, 'a query count alone is fine');
});

t.test('a count must be an element of a u32 tensor', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => {
    const x = rt.zeros([1, 4, 8]);
    t.throws(() => attentionWith(rt, x, x, x, { heads: 1, validKeys: { tensor: rt.zeros([2], 'f32'), index: 0 } }), /u32/);
    t.throws(() => attentionWith(rt, x, x, x, { heads: 1, validQueries: { tensor: rt.zeros([2], 'u32'), index: 2 } }), /element 2/);
  });
});

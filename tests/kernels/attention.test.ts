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
import type { DType } from '../../runtime/dtype.js';

interface Case {
  readonly batch: number;
  readonly heads: number;
  readonly d: number;
  readonly nq: number;
  readonly nk: number;
  readonly causal?: boolean;
  /** Keys grow along the sequence so later blocks beat the running max (exercises rescaling). */
  readonly rising?: boolean;
}

/** softmax(q·kᵀ·scale)·v per (batch, head), materialised, in f64. */
function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, scale: number): Float32Array {
  const w = c.heads * c.d;
  const out = new Float32Array(c.batch * c.nq * w);
  const s = new Float64Array(c.nk);
  for (let b = 0; b < c.batch; b++) {
    for (let h = 0; h < c.heads; h++) {
      for (let i = 0; i < c.nq; i++) {
        const qo = (b * c.nq + i) * w + h * c.d;
        let max = -Infinity;
        for (let j = 0; j < c.nk; j++) {
          if (c.causal && j > i) {
            s[j] = -Infinity;
            continue;
          }
          const ko = (b * c.nk + j) * w + h * c.d;
          let dot = 0;
          for (let x = 0; x < c.d; x++) dot += q[qo + x]! * k[ko + x]!;
          s[j] = dot * scale;
          max = Math.max(max, s[j]!);
        }
        let sum = 0;
        for (let j = 0; j < c.nk; j++) {
          s[j] = Math.exp(s[j]! - max);
          sum += s[j]!;
        }
        for (let x = 0; x < c.d; x++) {
          let acc = 0;
          for (let j = 0; j < c.nk; j++) acc += s[j]! * v[(b * c.nk + j) * w + h * c.d + x]!;
          out[qo + x] = acc / sum;
        }
      }
    }
  }
  return out;
}

function inputs(c: Case, dtype: DType): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const w = c.heads * c.d;
  let q = seededValues(c.batch * c.nq * w, 11 + c.d, -2, 2);
  let k = seededValues(c.batch * c.nk * w, 23 + c.nk, -2, 2);
  let v = seededValues(c.batch * c.nk * w, 37 + c.nq);
  if (c.rising) {
    for (let i = 0; i < k.length; i++) {
      const j = Math.floor(i / w) % c.nk;
      k[i] = k[i]! * 0.2 * (1 + j / 4);
      q[i % q.length] = Math.abs(q[i % q.length]!);
      k[i] = Math.abs(k[i]!);
    }
  }
  if (dtype === 'f16') [q, k, v] = [roundToF16(q), roundToF16(k), roundToF16(v)];
  return { q, k, v };
}

const name = (c: Case) => `B${c.batch} H${c.heads} d${c.d} ${c.nq}x${c.nk}${c.causal ? ' causal' : ''}${c.rising ? ' rising' : ''}`;

interface Asserts {
  ok(value: boolean, message: string): unknown;
  comment(message: string): unknown;
}

/** Where a failed result is wrong: the worst (batch, head) pairs and their worst row and column. */
function whereWrong(c: Case, got: Float32Array, want: Float32Array): string {
  const w = c.heads * c.d;
  const worst = new Map<string, { err: number; row: number; col: number; bad: number }>();
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    const b = Math.floor(i / (c.nq * w));
    const row = Math.floor(i / w) % c.nq;
    const h = Math.floor((i % w) / c.d);
    const key = `b${b}h${h}`;
    const e = worst.get(key) ?? { err: 0, row: -1, col: -1, bad: 0 };
    if (err > 1e-2) e.bad++;
    if (err > e.err) Object.assign(e, { err, row, col: i % c.d });
    worst.set(key, e);
  }
  return [...worst.entries()].map(([k, e]) => `${k}: ${e.bad} bad, worst ${e.err.toFixed(3)} at row ${e.row} col ${e.col}`).join('; ');
}

async function check(t: Asserts, rt: Runtime, c: Case, dtype: DType, variant?: AttentionVariant): Promise<void> {
  const { q, k, v } = inputs(c, dtype);
  const w = c.heads * c.d;
  const scale = 1 / Math.sqrt(c.d);
  const want = reference(c, q, k, v, scale);
  let ran = '';
  const got = await rt.read(
    rt.tidy(() => {
      const r = attentionWith(
        rt,
        rt.upload(q, [c.batch, c.nq, w], dtype),
        rt.upload(k, [c.batch, c.nk, w], dtype),
        rt.upload(v, [c.batch, c.nk, w], dtype),
        { heads: c.heads, causal: c.causal },
        variant,
      );
      ran = attentionVariantName(r.variant);
      return r.out;
    }),
  );
  const err = maxRelError(got, want);
  t.ok(err <= KERNEL_TOLERANCE[dtype], `${name(c)} ${dtype} [${ran}] max rel error ${err.toExponential(2)}`);
  if (!(err <= KERNEL_TOLERANCE[dtype])) t.comment(whereWrong(c, got, want));
}

const small: Case[] = [
  { batch: 2, heads: 3, d: 8, nq: 37, nk: 29 },
  { batch: 1, heads: 2, d: 40, nq: 70, nk: 77 },
  { batch: 1, heads: 2, d: 16, nq: 13, nk: 13, causal: true },
  { batch: 1, heads: 1, d: 4, nq: 5, nk: 3 },
  { batch: 1, heads: 2, d: 80, nq: 20, nk: 33 },
  { batch: 1, heads: 1, d: 160, nq: 9, nk: 17 },
  { batch: 1, heads: 2, d: 16, nq: 40, nk: 150, rising: true },
  // CLIP's shape class (d 64, causal, 77 tokens): the tensor-core kernel on devices that have it.
  { batch: 1, heads: 2, d: 64, nq: 77, nk: 77, causal: true },
];

t.test('attention (default variant) matches a materialised f64 softmax', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) for (const c of small) await check(t, rt, c, dtype);
});

t.test('portable kernel in f16 (the default there may be the tensor-core one)', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) return void t.comment('skipped: no shader-f16');
  for (const c of small.slice(0, 3)) {
    await check(t, rt, c, 'f16', portableVariant(problemOf(c)));
  }
});

const matrixCases: Case[] = [
  { batch: 2, heads: 3, d: 8, nq: 37, nk: 29 },
  { batch: 1, heads: 2, d: 40, nq: 70, nk: 77 },
  { batch: 1, heads: 2, d: 16, nq: 13, nk: 13, causal: true },
  { batch: 1, heads: 1, d: 80, nq: 20, nk: 33 },
  { batch: 1, heads: 2, d: 16, nq: 40, nk: 150, rising: true },
];

/** Only on hardware fragments (emulation is too slow a compile for more cases): CLIP's and d 160. */
const hardwareCases: Case[] = [
  { batch: 2, heads: 2, d: 64, nq: 77, nk: 77, causal: true },
  { batch: 1, heads: 1, d: 160, nq: 33, nk: 65 },
];

/** Variants that reach every path: both lane layouts, prefetch on and off, the K/V ring, rescaling forced. */
function matrixVariants(frag: MatrixVariant['frag'], emulated: boolean): MatrixVariant[] {
  const base = { kind: 'mma', frag, emulated, prefetch: true, kv: 'staged' } as const;
  const rf = 32 / frag.M;
  return [
    { ...base, subgroups: 4, rowFrags: 1, keyBlock: 32, ring: true },
    { ...base, subgroups: 1, rowFrags: rf, keyBlock: 64, prefetch: false },
    { ...base, subgroups: 2, rowFrags: rf, keyBlock: 32, ring: true, slack: 0 },
    { ...base, subgroups: 1, rowFrags: 1, keyBlock: 32, slack: 0 },
    { ...base, subgroups: 2, rowFrags: rf, keyBlock: 64 },
    { ...base, subgroups: 4, rowFrags: 1, keyBlock: 32, kv: 'direct' },
    { ...base, subgroups: 1, rowFrags: rf, keyBlock: 32, kv: 'direct', slack: 0 },
  ];
}

const problemOf = (c: Case): AttentionProblem => ({ ...c, headDim: c.d, dtype: 'f16', causal: c.causal ?? false, scale: 1 / Math.sqrt(c.d) });

t.test('tensor-core kernel (hardware fragments, or emulated ones) matches the reference', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16 || !rt.features.subgroups) return void t.comment('skipped: needs shader-f16 and subgroups');
  const frags = attentionFragments(rt);
  const plans: { frag: MatrixVariant['frag']; emulated: boolean }[] = frags.length
    ? frags.map((f) => ({ frag: { M: f.M, N: f.N, K: f.K }, emulated: false }))
    : [
        { frag: { M: 16, N: 16, K: 16 }, emulated: true },
        { frag: { M: 16, N: 8, K: 8 }, emulated: true },
      ];
  // Emulation compiles slowly on a CPU: one variant per case there (fewer for the second shape),
  // every variant on hardware.
  const casesFor = (i: number) =>
    plans[i]!.emulated ? (i > 0 ? matrixCases.slice(1, 3) : matrixCases) : [...matrixCases, ...hardwareCases];
  t.comment(`fragments: ${plans.map((p) => `${p.frag.M}x${p.frag.N}x${p.frag.K}${p.emulated ? ' (emulated)' : ''}`).join(', ')}`);
  for (const [pi, plan] of plans.entries()) {
    for (const [i, c] of casesFor(pi).entries()) {
      const variants = matrixVariants(plan.frag, plan.emulated).filter((v) => {
        const why = attentionVariantProblem(rt, problemOf(c), v);
        if (why) t.comment(`skipped ${attentionVariantName(v)} for ${name(c)}: ${why}`);
        return why === null;
      });
      // Emulated: variant j runs on case j mod the case count, so every variant runs somewhere.
      const n = casesFor(pi).length;
      const use = plan.emulated ? variants.filter((_, j) => j % n === i || (i >= variants.length && j === i % variants.length)) : variants;
      for (const v of use) await check(t, rt, c, 'f16', v);
    }
  }
});


t.test('unrolled emulated kernel (the loop structure hardware fragments run) matches the reference', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16 || !rt.features.subgroups) return void t.comment('skipped: needs shader-f16 and subgroups');
  // Two row fragments per subgroup and forced rescaling reach every unrolled loop; one case, since
  // a CPU driver takes about 10 s to compile it.
  const frag = { M: 16, N: 16, K: 16 };
  const v: MatrixVariant = { kind: 'mma', frag, emulated: true, rolled: false, prefetch: true, kv: 'staged', subgroups: 2, rowFrags: 2, keyBlock: 32, slack: 0 };
  await check(t, rt, matrixCases[1]!, 'f16', v);
});

// Checks the device's fast kernels (f16 storage, tensor cores where present) against the portable
// f32 ones on the same inputs, at shapes like the U-Net's. CI runs the kernels on a CPU driver,
// which has no subgroup matrices, so this is how the tensor-core variants get verified on a GPU.
import { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { roundToF16 } from '../runtime/half.js';
import { attentionProblem, attentionVariantName, attentionVariantProblem, attentionWith, chooseAttentionVariant, portableVariant, type AttentionOptions, type AttentionProblem, type AttentionVariant } from '../kernels/attention.js';
import { linear, linearProblem, matmul, matmulProblem } from '../kernels/matmul.js';
import { conv2d, conv2dVariant, type ConvLowering } from '../kernels/conv2d.js';
import { chooseVariant, variantName, type GemmVariant, type MatrixVariant } from '../kernels/gemm.js';
import { tokenNorms } from '../kernels/merge-norms.js';
import { bestMatch, bestMatchPath } from '../kernels/merge-best-match.js';
import { Cli, runScript, ScriptError } from './cli.js';

const cli = new Cli({
  name: 'check-kernels',
  usage: 'node scripts/check-kernels.js [--filter text]',
  description:
    "Runs the kernels the device would pick for f16 (tensor cores where it has them) and the portable f32 ones on the same " +
    'f16-representable inputs, and compares: max |error| relative to the largest reference value. Exit code 1 when a case is off.',
  options: {
    filter: { type: 'strings', valueName: 'TEXT', description: 'only cases whose name contains the text (any match)' },
  },
});

interface Check {
  readonly name: string;
  /** Allowed max |fast − reference| / max |reference|. */
  readonly tolerance: number;
  /** Records both versions; `rows` limits the comparison to the first rows of each batch row. */
  record(rt: Runtime): { fast: Tensor; reference: Tensor; variant: string; rows?: { batch: number; of: number; keep: number } };
}

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return roundToF16(out); // both paths see exactly the same numbers
}

/** Uploads the same values in both dtypes. */
function pair(rt: Runtime, data: Float32Array, shape: number[]): [Tensor, Tensor] {
  return [rt.upload(data, shape, 'f16'), rt.upload(data, shape, 'f32')];
}

/** max |got − want| / max |want| over the compared elements. */
function relError(got: Float32Array, want: Float32Array, rows?: { batch: number; of: number; keep: number }): number {
  const per = rows ? want.length / (rows.batch * rows.of) : 0;
  const inside = (i: number) => !rows || Math.floor(i / per) % rows.of < rows.keep;
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (!inside(i)) continue;
    scale = Math.max(scale, Math.abs(want[i]!));
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  }
  return worst / Math.max(scale, 1e-30);
}

interface AttentionExtra {
  readonly causal?: boolean;
  readonly counts?: [number, number];
  /** Run the chosen tensor-core variant with the K/V ring (when it stages K/V). */
  readonly ring?: boolean;
  /** Run the chosen tensor-core variant with its fragment loops rolled (the sweeps' 'rolled' rows). */
  readonly rolled?: boolean;
}

function attentionCheck(label: string, batch: number, heads: number, d: number, nq: number, nk: number, extra: AttentionExtra = {}): Check {
  const counted = extra.counts ? ` counted q${extra.counts[0]} k${extra.counts[1]}` : '';
  return {
    name: `attention ${label} B${batch}xH${heads} ${nq}x${nk} d${d}${extra.causal ? ' causal' : ''}${counted}${extra.ring ? ' ring' : ''}${extra.rolled ? ' rolled' : ''}`,
    tolerance: 4e-3,
    record(rt) {
      const w = heads * d;
      const [q16, q32] = pair(rt, values(batch * nq * w, 1), [batch, nq, w]);
      const [k16, k32] = pair(rt, values(batch * nk * w, 2), [batch, nk, w]);
      const [v16, v32] = pair(rt, values(batch * nk * w, 3), [batch, nk, w]);
      const options: AttentionOptions = { heads, causal: extra.causal };
      if (extra.counts) {
        const counts = rt.upload(Uint32Array.from(extra.counts), [2], 'u32');
        Object.assign(options, { validQueries: { tensor: counts, index: 0 }, validKeys: { tensor: counts, index: 1 } });
      }
      const problem = attentionProblem(q16, k16, v16, options);
      const chosen = chooseAttentionVariant(rt, problem);
      const loops = extra.rolled && chosen.kind === 'mma' ? { ...chosen, rolled: true } : chosen;
      const fast = attentionWith(rt, q16, k16, v16, options, extra.ring ? withRing(rt, problem, loops) : loops);
      const reference = attentionWith(rt, q32, k32, v32, options, portableVariant(attentionProblem(q32, k32, v32, options)));
      const rows = extra.counts && { batch, of: nq, keep: extra.counts[0] };
      return { fast: fast.out, reference: reference.out, variant: attentionVariantName(fast.variant), rows };
    },
  };
}

/** The variant with the K/V ring, on fewer subgroups where its second K/V buffer does not fit. */
function withRing(rt: Runtime, p: AttentionProblem, v: AttentionVariant): AttentionVariant {
  if (v.kind !== 'mma' || v.kv !== 'staged') return v;
  for (let subgroups = v.subgroups; subgroups >= 1; subgroups /= 2) {
    const ringed: AttentionVariant = { ...v, subgroups, prefetch: true, ring: true };
    if (attentionVariantProblem(rt, p, ringed) === null) return ringed;
  }
  return v;
}

/** A swept GEMM option applied to the chosen tensor-core variant (verifies it before it is chosen). */
type MatrixTweak = Partial<Pick<MatrixVariant, 'bk' | 'results' | 'sgM' | 'sgN' | 'splitK' | 'streamK' | 'ahead'>>;

function tweaked(v: GemmVariant, tweak: MatrixTweak | undefined): GemmVariant {
  return tweak && v.kind === 'tc' ? { ...v, ...tweak } : v;
}

const tweakName = (tweak?: MatrixTweak) => (tweak ? ` ${JSON.stringify(tweak)}` : '');

function linearCheck(rows: number, k: number, n: number, tweak?: MatrixTweak): Check {
  return {
    name: `linear ${rows}x${k} → ${n} + bias, gelu${tweakName(tweak)}`,
    tolerance: 2e-3,
    record(rt) {
      const [x16, x32] = pair(rt, values(rows * k, 4), [rows, k]);
      const [w16, w32] = pair(rt, values(n * k, 5), [n, k]);
      const [b16, b32] = pair(rt, values(n, 6), [n]);
      const variant = tweaked(chooseVariant(rt, linearProblem(rt, x16, w16, { bias: b16 })), tweak);
      const fast = linear(rt, x16, w16, { bias: b16, activation: 'gelu', variant });
      const reference = linear(rt, x32, w32, { bias: b32, activation: 'gelu' });
      return { fast, reference, variant: variantName(variant) };
    },
  };
}

function matmulCheck(m: number, k: number, n: number, tweak?: MatrixTweak): Check {
  return {
    name: `matmul ${m}x${k}x${n}${tweakName(tweak)}`,
    tolerance: 2e-3,
    record(rt) {
      const [a16, a32] = pair(rt, values(m * k, 7), [m, k]);
      const [b16, b32] = pair(rt, values(k * n, 8), [k, n]);
      const variant = tweaked(chooseVariant(rt, matmulProblem(rt, a16, b16)), tweak);
      return { fast: matmul(rt, a16, b16, { variant }), reference: matmul(rt, a32, b32), variant: variantName(variant) };
    },
  };
}

function convCheck(batch: number, cin: number, cout: number, size: number, kernel: 1 | 3, stride: 1 | 2, lowering?: ConvLowering): Check {
  return {
    name: `conv${kernel}x${kernel} ${cin}→${cout} ${size}x${size} b${batch} stride ${stride}${lowering ? ` ${lowering}` : ''}`,
    tolerance: 2e-3,
    record(rt) {
      const [x16, x32] = pair(rt, values(batch * cin * size * size, 9), [batch, cin, size, size]);
      const [w16, w32] = pair(rt, values(cout * cin * kernel * kernel, 10), [cout, cin, kernel, kernel]);
      const [b16, b32] = pair(rt, values(cout, 11), [cout]);
      const padding = kernel === 3 ? 1 : 0;
      const fast = conv2d(rt, x16, w16, { bias: b16, padding, stride, lowering });
      const reference = conv2d(rt, x32, w32, { bias: b32, padding, stride, lowering: 'gather' });
      return { fast, reference, variant: conv2dVariant(rt, x16, w16, { bias: b16, padding, stride, lowering }) };
    },
  };
}

function similarityCheck(batch: number, tokens: number, channels: number): Check {
  return {
    name: `merge best-match similarity [${batch}, ${tokens}, ${channels}] dst ${tokens / 4}`,
    tolerance: 4e-3,
    record(rt) {
      const [x16, x32] = pair(rt, values(batch * tokens * channels, 12), [batch, tokens, channels]);
      const ids = Array.from({ length: tokens }, (_, i) => i);
      const dst = rt.upload(Uint32Array.from(ids.filter((i) => i % 4 === 0)), [tokens / 4], 'u32');
      const src = rt.upload(Uint32Array.from(ids.filter((i) => i % 4 !== 0)), [tokens - tokens / 4], 'u32');
      const fast = bestMatch(rt, x16, tokenNorms(rt, x16), src, dst);
      const reference = bestMatch(rt, x32, tokenNorms(rt, x32), src, dst, { path: 'fused' });
      return { fast: fast.similarity, reference: reference.similarity, variant: bestMatchPath(rt, x16) };
    },
  };
}

const CHECKS: Check[] = [
  attentionCheck('self', 2, 8, 40, 1000, 1000),
  attentionCheck('self', 2, 8, 40, 1000, 1000, { counts: [777, 613] }),
  attentionCheck('self', 1, 2, 40, 8192, 8192),
  attentionCheck('self', 1, 2, 40, 8192, 8192, { counts: [8000, 6999] }),
  attentionCheck('self', 2, 8, 80, 300, 300),
  attentionCheck('self', 2, 8, 160, 100, 100),
  attentionCheck('cross', 2, 8, 40, 1000, 77),
  attentionCheck('cross', 2, 8, 40, 1000, 77, { counts: [555, 77] }),
  attentionCheck('clip', 2, 12, 64, 77, 77, { causal: true }),
  attentionCheck('self', 2, 8, 40, 1000, 1000, { ring: true }),
  attentionCheck('self', 1, 2, 40, 8192, 8192, { counts: [8000, 6999], ring: true }),
  attentionCheck('self', 2, 8, 80, 300, 300, { ring: true }),
  attentionCheck('self', 2, 8, 160, 100, 100, { ring: true }),
  attentionCheck('cross', 2, 8, 40, 1000, 77, { ring: true }),
  attentionCheck('clip', 2, 12, 64, 77, 77, { causal: true, ring: true }),
  attentionCheck('self', 2, 8, 40, 1000, 1000, { rolled: true }),
  attentionCheck('clip', 2, 12, 64, 77, 77, { causal: true, rolled: true }),
  linearCheck(1000, 320, 1280),
  linearCheck(8192, 320, 1280),
  matmulCheck(517, 320, 1280),
  matmulCheck(512, 512, 512),
  matmulCheck(4096, 1024, 4096),
  matmulCheck(4096, 1024, 4096, { bk: 32, results: 'memory' }),
  linearCheck(8192, 320, 1280, { results: 'memory' }),
  // stream-K: 1024 tiles over 132 workers (a tail of 100), and 24 tiles of 64x64 over 5 (a tail of 4)
  matmulCheck(4096, 1024, 4096, { streamK: 132 }),
  linearCheck(256, 1280, 384, { results: 'memory', ahead: 3, splitK: 1, streamK: 5 }),
  linearCheck(128, 1280, 1280),
  convCheck(2, 320, 320, 32, 3, 1),
  convCheck(2, 1280, 1280, 8, 3, 1),
  convCheck(2, 320, 640, 17, 3, 2),
  // 6x6: im2col's four-pixel stores run across output rows
  convCheck(2, 320, 320, 6, 3, 1),
  convCheck(2, 640, 320, 16, 1, 1),
  convCheck(2, 320, 320, 32, 3, 1, 'gather'),
  convCheck(2, 320, 640, 17, 3, 2, 'gather'),
  similarityCheck(2, 1024, 320),
];

await runScript(cli, async ({ values: args }) => {
  const rt = await Runtime.create();
  try {
    console.log(`# ${rt.describe()}`);
    if (!rt.features.f16) throw new ScriptError('this device has no shader-f16: there is no fast path to check');
    const checks = CHECKS.filter((c) => args.filter.length === 0 || args.filter.some((f) => c.name.includes(f)));
    if (checks.length === 0) throw new ScriptError('no check matches the filter');
    let failed = 0;
    for (const check of checks) {
      const { fast, reference, variant, rows } = rt.tidy(() => check.record(rt));
      const error = relError(await rt.read(fast), await rt.read(reference), rows);
      fast.dispose();
      reference.dispose();
      const ok = error <= check.tolerance;
      if (!ok) failed++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${check.name.padEnd(58)} error ${error.toExponential(2)} (≤ ${check.tolerance})  ${variant}`);
    }
    console.log(`${checks.length - failed}/${checks.length} checks within tolerance`);
    if (failed > 0) process.exitCode = 1;
  } finally {
    rt.destroy();
  }
});

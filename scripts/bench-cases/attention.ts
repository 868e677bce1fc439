import type { BenchCase } from './case.js';
import {
  attentionFragments,
  attentionProblem,
  attentionVariantName,
  attentionWith,
  chooseAttentionVariant,
  type AttentionVariant,
  type MatrixVariant,
} from '../../kernels/attention.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { DType } from '../../runtime/dtype.js';

interface Shape {
  readonly label: string;
  readonly batch: number;
  readonly heads: number;
  readonly d: number;
  readonly nq: number;
  readonly nk: number;
  readonly causal?: boolean;
}

/** Picks a variant for a sweep; undefined keeps the wrapper's own choice. */
type VariantPick = (rt: Runtime) => AttentionVariant | undefined;

const randomCache = new Map<string, Float32Array>();

/** Values of unit variance: realistic score spreads, so the softmax rescales as often as in a model. */
function randomValues(n: number, seed: number): Float32Array {
  const key = `${n}:${seed}`;
  const cached = randomCache.get(key);
  if (cached) return cached;
  const out = new Float32Array(n);
  randomCache.set(key, out);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 3.46 - 1.73;
  }
  return out;
}

function attentionCase(shape: Shape, dtype: DType, kernel = 'attention', pick?: VariantPick, tag = ''): BenchCase {
  const { batch, heads, d, nq, nk } = shape;
  const w = heads * d;
  return {
    name: `${kernel} ${shape.label} B${batch}xH${heads} ${nq}x${nk} d${d}${shape.causal ? ' causal' : ''}${tag}`,
    kernel,
    dtype,
    flops: 4 * batch * heads * nq * nk * d,
    bytes: (2 * batch * nq * w + 2 * batch * nk * w) * (dtype === 'f32' ? 4 : 2),
    setup(rt) {
      const q = rt.upload(randomValues(batch * nq * w, 1), [batch, nq, w], dtype);
      const k = rt.upload(randomValues(batch * nk * w, 2), [batch, nk, w], dtype);
      const v = rt.upload(randomValues(batch * nk * w, 3), [batch, nk, w], dtype);
      const out = rt.empty([batch, nq, w], dtype);
      const options = { heads, causal: shape.causal, out };
      const variant = pick?.(rt) ?? chooseAttentionVariant(rt, attentionProblem(q, k, v, options));
      return {
        run: () => void attentionWith(rt, q, k, v, options, variant),
        variant: attentionVariantName(variant),
        dispose: () => [q, k, v, out].forEach((t) => t.dispose()),
      };
    },
  };
}

const self4096: Shape = { label: 'self', batch: 2, heads: 8, d: 40, nq: 4096, nk: 4096 };
const cross4096: Shape = { label: 'cross', batch: 2, heads: 8, d: 40, nq: 4096, nk: 77 };
const self1024: Shape = { label: 'self', batch: 2, heads: 8, d: 80, nq: 1024, nk: 1024 };
const cross1024: Shape = { label: 'cross', batch: 2, heads: 8, d: 80, nq: 1024, nk: 77 };
const self256: Shape = { label: 'self', batch: 2, heads: 8, d: 160, nq: 256, nk: 256 };
const self64: Shape = { label: 'self', batch: 2, heads: 8, d: 160, nq: 64, nk: 64 };
const self16384: Shape = { label: 'self', batch: 2, heads: 8, d: 40, nq: 16384, nk: 16384 };
const clip: Shape = { label: 'clip', batch: 2, heads: 12, d: 64, nq: 77, nk: 77, causal: true };

// The U-Net's attention shapes at 512² (and the first level at 1024²), plus CLIP's causal one.
export const attentionCases: BenchCase[] = [
  ...[self4096, cross4096, self1024, clip].flatMap((s) => (['f16', 'f32'] as DType[]).map((dt) => attentionCase(s, dt))),
  ...[cross1024, self256, self64, self16384].map((s) => attentionCase(s, 'f16')),
];

/** Tile shapes for the tensor-core kernel: [subgroups, row fragments, key block, prefetch]. */
const SWEEP_TILES: [number, number, number, boolean][] = [
  [4, 1, 32, true],
  [4, 1, 64, true],
  [4, 1, 64, false],
  [2, 2, 32, true],
  [2, 2, 64, true],
  [4, 2, 32, true],
  [8, 1, 64, true],
  [2, 1, 64, true],
  [1, 2, 64, true],
];

function sweepPick(fragIndex: number, [subgroups, rowFrags, keyBlock, prefetch]: [number, number, number, boolean]): VariantPick {
  return (rt) => {
    const f = attentionFragments(rt)[fragIndex];
    if (!f) throw new Error(`no fragment shape #${fragIndex} on this device`);
    const frag = { M: f.M, N: f.N, K: f.K };
    const v: MatrixVariant = { kind: 'mma', frag, subgroups, rowFrags: (rowFrags * 16) / f.M, keyBlock, prefetch };
    return v;
  };
}

// `--filter attn-sweep`: tile shapes (and every fragment shape the device offers, at the headline
// shape) for the tensor-core kernel.
export const attentionSweepCases: BenchCase[] = [
  ...[0, 1, 2].flatMap((fi) => SWEEP_TILES.map((tile, ti) => attentionCase(self4096, 'f16', 'attn-sweep', sweepPick(fi, tile), ` #${fi}.${ti}`))),
  ...[cross4096, self1024].flatMap((shape) =>
    SWEEP_TILES.slice(0, 6).map((tile, ti) => attentionCase(shape, 'f16', 'attn-sweep', sweepPick(0, tile), ` #0.${ti}`)),
  ),
];

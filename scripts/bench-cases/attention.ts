import { randomTensor, type BenchCase } from './case.js';
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
      const q = randomTensor(rt, [batch, nq, w], dtype, 1);
      const k = randomTensor(rt, [batch, nk, w], dtype, 2);
      const v = randomTensor(rt, [batch, nk, w], dtype, 3);
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

interface Tile {
  readonly frag: string;
  readonly subgroups: number;
  readonly rows: number;
  readonly keyBlock: number;
  readonly kv: 'staged' | 'direct';
  readonly prefetch?: boolean;
  readonly ring?: boolean;
  readonly skip?: number;
  readonly rolled?: boolean;
}

function sweepPick(tile: Tile): VariantPick {
  return (rt) => {
    const f = attentionFragments(rt).find((c) => `${c.M}x${c.N}x${c.K}` === tile.frag);
    if (!f) throw new Error(`no ${tile.frag} f16→f32 subgroup matrices on this device`);
    const v: MatrixVariant = {
      kind: 'mma',
      frag: { M: f.M, N: f.N, K: f.K },
      subgroups: tile.subgroups,
      rowFrags: tile.rows / f.M,
      keyBlock: tile.keyBlock,
      kv: tile.kv,
      prefetch: tile.prefetch ?? true,
      ring: tile.ring,
      skip: tile.skip,
      rolled: tile.rolled ?? false,
    };
    return v;
  };
}

const t = (frag: string, subgroups: number, rows: number, keyBlock: number, kv: 'staged' | 'direct', extra: Partial<Tile> = {}): Tile => ({
  frag,
  subgroups,
  rows,
  keyBlock,
  kv,
  ...extra,
});

const SWEEP: [Shape, Tile[]][] = [
  [
    self4096,
    [
      t('16x16x16', 8, 16, 32, 'staged', { rolled: true }),
      t('16x16x16', 4, 16, 32, 'staged'),
      t('16x16x16', 4, 16, 32, 'staged', { ring: true }),
      t('16x16x16', 8, 16, 32, 'staged', { ring: true }),
      t('16x16x16', 8, 16, 64, 'staged', { ring: true }),
      t('16x16x16', 4, 32, 32, 'staged', { ring: true }),
      t('16x16x16', 8, 32, 32, 'staged', { ring: true }),
      t('16x16x16', 8, 16, 32, 'staged', { ring: true, skip: 7 }),
      t('16x16x16', 4, 16, 32, 'staged', { skip: 7 }),
      t('16x16x16', 4, 16, 32, 'staged', { skip: 2 }),
      t('16x16x16', 4, 16, 64, 'staged'),
      t('16x16x16', 8, 16, 32, 'staged'),
      t('16x16x16', 8, 16, 64, 'staged'),
      t('16x16x16', 4, 32, 32, 'staged'),
      t('16x16x16', 2, 32, 32, 'staged'),
      t('16x8x8', 4, 16, 32, 'staged'),
    ],
  ],
  [cross4096, [t('16x16x16', 4, 16, 32, 'staged'), t('16x16x16', 8, 16, 32, 'staged')]],
  [self1024, [t('16x16x16', 4, 16, 32, 'staged'), t('16x16x16', 4, 16, 32, 'staged', { ring: true }), t('16x16x16', 2, 16, 32, 'staged'), t('16x16x16', 4, 16, 64, 'staged')]],
  [self16384, [t('16x16x16', 8, 16, 32, 'staged'), t('16x16x16', 8, 16, 32, 'staged', { rolled: true }), t('16x16x16', 8, 16, 32, 'staged', { ring: true }), t('16x16x16', 8, 32, 32, 'staged', { ring: true }), t('16x16x16', 8, 16, 64, 'staged'), t('16x16x16', 4, 16, 64, 'staged'), t('16x16x16', 8, 32, 32, 'staged')]],
];

const tileName = (x: Tile) => ` [${x.frag} ${x.kv} sg${x.subgroups} q${x.rows} k${x.keyBlock}${x.ring ? ' ring' : ''}${x.skip ? ` skip${x.skip}` : ''}${x.rolled ? ' rolled' : ''}]`;

// `--filter attn-sweep`: tile shapes, fragment shapes and K/V access for the tensor-core kernel
// (skip = phases left out, to see where the time goes).
export const attentionSweepCases: BenchCase[] = SWEEP.flatMap(([shape, tiles]) =>
  tiles.map((tile) => attentionCase(shape, 'f16', 'attn-sweep', sweepPick(tile), tileName(tile))),
);

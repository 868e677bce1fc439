import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { SubgroupMatrixConfig } from '../runtime/gpu.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { formatShape, type DType } from '../runtime/dtype.js';
import { checkDeviceCount, countFunction, type DeviceCount } from './device-count.js';
import { unrollLoops } from './unroll.js';

export interface AttentionOptions {
  heads: number;
  /** default 1/sqrt(headDim) */
  scale?: number;
  /** key j masked for query i when j > i (CLIP text encoder) */
  causal?: boolean;
  out?: Tensor;
  /**
   * Fixed-capacity queries whose real count lives on the GPU (e.g. a CA-ToMe merged sequence): rows
   * at or past min(count, Nq) are not computed, and their output rows are left as they were.
   */
  validQueries?: DeviceCount;
  /**
   * Fixed-capacity keys/values: keys at or past min(count, Nk) are masked out of the softmax and
   * never read (so whatever those rows hold cannot reach the output). At least one key must be valid.
   */
  validKeys?: DeviceCount;
}

/** Plain WGSL: `threadsPerRow` threads share a query row, `rows` rows per workgroup. */
export interface PortableVariant {
  readonly kind: 'portable';
  readonly rows: number;
  readonly threadsPerRow: number;
  readonly keyBlock: number;
}

/** Subgroup matrices: `subgroups` × 32 lanes, each subgroup owning `rowFrags` row fragments. */
export interface MatrixVariant {
  readonly kind: 'mma';
  readonly frag: { readonly M: number; readonly N: number; readonly K: number };
  readonly subgroups: number;
  readonly rowFrags: number;
  readonly keyBlock: number;
  /**
   * 'staged': K/V blocks copied to workgroup memory (any head dim that is a multiple of 8);
   * 'direct': fragments read straight from storage (the fragments must divide the head dim).
   */
  readonly kv: 'staged' | 'direct';
  /** Staged only: load the next K/V block into registers while the current one is being used. */
  readonly prefetch: boolean;
  /**
   * Staged with prefetch only: two K/V buffers, the next block written halfway through the current
   * one, so each key block costs two workgroup barriers instead of four.
   */
  readonly ring?: boolean;
  /** Fragments emulated on plain arrays: tests the tiling on devices without subgroup matrices. */
  readonly emulated?: boolean;
  /** log2 units the running max may lag a block's max before the output is rescaled (default 8). */
  readonly slack?: number;
  /** Profiling only: bits 1, 2, 4 skip Q·Kᵀ, the softmax, P·V (the result is then wrong). */
  readonly skip?: number;
  /**
   * Keep the fragment loops rolled and the fragment arrays indexed, or (false) unroll the loops and
   * split the arrays into variables (see unroll.ts: rolled loops can leave register arrays in local
   * memory). Left out: unrolled for hardware fragments (December 2026, H200: 52.6 against 48.6
   * TFLOP/s at 4096 tokens, 56.0 against 51.5 at 16384; H100: 55.0 against 45.3 at 16384), rolled
   * for emulated ones, which CPU drivers take about 10 s to compile unrolled.
   */
  readonly rolled?: boolean;
}

export type AttentionVariant = PortableVariant | MatrixVariant;

/** One attention call's sizes, as the kernels see them. */
export interface AttentionProblem {
  readonly batch: number;
  readonly nq: number;
  readonly nk: number;
  readonly heads: number;
  readonly headDim: number;
  readonly dtype: DType;
  readonly causal: boolean;
  readonly scale: number;
  /** Whether the valid keys come from a GPU count (not every variant can mask them). */
  readonly countedKeys?: boolean;
}

const LOG2E = Math.LOG2E;
const PORTABLE_WORKGROUP_BYTES = 24 * 1024;
const DEFAULT_SLACK = 8;
const HARDWARE_MIN_HEAD_DIM = 32;

export function attentionProblem(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): AttentionProblem {
  const what = () => `attention: q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}, heads ${options.heads}`;
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) throw new Error(`${what()}: expected [batch, tokens, heads·headDim] tensors`);
  const [batch, nq, width] = q.shape as [number, number, number];
  const [kb, nk, kw] = k.shape as [number, number, number];
  if (!Number.isInteger(options.heads) || options.heads < 1 || width % options.heads !== 0) {
    throw new Error(`${what()}: the last dimension must split into whole heads`);
  }
  if (kb !== batch || kw !== width || v.shape.some((d, i) => d !== k.shape[i])) {
    throw new Error(`${what()}: k and v must be [${batch}, keys, ${width}] with the same shape`);
  }
  if (nk < 1) throw new Error(`${what()}: no keys`);
  if (q.dtype !== k.dtype || q.dtype !== v.dtype || (q.dtype !== 'f32' && q.dtype !== 'f16')) {
    throw new Error(`${what()}: q, k, v must share dtype f32 or f16 (got ${q.dtype}, ${k.dtype}, ${v.dtype})`);
  }
  const headDim = width / options.heads;
  if (options.validQueries) checkDeviceCount('attention', 'validQueries', options.validQueries);
  if (options.validKeys) checkDeviceCount('attention', 'validKeys', options.validKeys);
  return {
    batch,
    nq,
    nk,
    heads: options.heads,
    headDim,
    dtype: q.dtype,
    causal: options.causal ?? false,
    scale: options.scale ?? 1 / Math.sqrt(headDim),
    countedKeys: options.validKeys !== undefined,
  };
}

export function attentionVariantName(v: AttentionVariant): string {
  if (v.kind === 'portable') return `portable ${v.rows}x${v.threadsPerRow} k${v.keyBlock}`;
  const rows = v.subgroups * v.rowFrags * v.frag.M;
  return (
    `${v.emulated ? 'mma-emulated' : 'mma'} ${v.kv} q${rows} k${v.keyBlock} sg${v.subgroups}x${v.rowFrags} ` +
    `f${v.frag.M}x${v.frag.N}x${v.frag.K}${v.kv === 'staged' && v.prefetch ? ' pf' : ''}${v.ring ? ' ring' : ''}` +
    `${v.slack !== undefined ? ` slack${v.slack}` : ''}${v.skip ? ` skip${v.skip}` : ''}${v.rolled === false ? ' unrolled' : ''}`
  );
}

/** The f16 → f32 fragment shapes the device offers, best first (16x16x16 does the most per load). */
export function attentionFragments(rt: Runtime): SubgroupMatrixConfig[] {
  if (!rt.features.subgroupMatrix) return [];
  return rt.features.subgroupMatrixConfigs
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M >= 8 && c.N >= 8 && c.K >= 8)
    .filter((c) => [c.M, c.N, c.K].every((x) => x <= 16 && (x & (x - 1)) === 0))
    .sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K);
}

/** Threads per row for the portable kernel: the fewest that keep each thread's slice ≤ 48 columns. */
function portableThreadsPerRow(d: number): number {
  for (let g = Math.ceil(d / 48); g <= d; g++) if (d % g === 0) return g;
  return d;
}

export function portableVariant(p: AttentionProblem): PortableVariant {
  const threadsPerRow = portableThreadsPerRow(p.headDim);
  const rows = Math.max(1, Math.floor(64 / threadsPerRow));
  let keyBlock = 32;
  while (keyBlock > 4 && portableBytes(p.headDim, rows, threadsPerRow, keyBlock) > PORTABLE_WORKGROUP_BYTES) keyBlock /= 2;
  return { kind: 'portable', rows, threadsPerRow, keyBlock };
}

function portableBytes(d: number, rows: number, g: number, keyBlock: number): number {
  return (2 * keyBlock * d + (g > 1 ? rows * g * keyBlock : 1)) * 4;
}

/**
 * The variant for a problem on this device: the tensor-core kernel for f16 when the device has
 * subgroup matrices and the head dim is a multiple of 8 (and in the range verified on hardware),
 * else the portable kernel. From sweeps on the H100 (bench-kernels --filter attn-sweep, Nov 2026):
 * 16×16×16 fragments beat 16×8×8 even where they pad the head dim (d = 40: 27.2 vs 25.0 TFLOP/s at
 * 4096 tokens); staged K/V and 32-key blocks throughout; up to d = 48, 4 subgroups × 16 rows, 8
 * from 4096 queries (4096: 33.2 vs 29.5 TFLOP/s; 16384: 37.4); 2 beyond d = 48. The K/V ring
 * (MatrixVariant.ring) lost on the H100 (December 2026, 4096: 34.1–34.4 vs 34.0–35.7; 16384: 35.4
 * vs 36.6–37.2), so it is left to sweeps.
 */
export function chooseAttentionVariant(rt: Runtime, p: AttentionProblem): AttentionVariant {
  if (p.dtype === 'f16') {
    // largest fragments first
    for (const frag of attentionFragments(rt)) {
      const mk = (subgroups: number, keyBlock: number): MatrixVariant => ({
        kind: 'mma',
        frag: { M: frag.M, N: frag.N, K: frag.K },
        subgroups,
        rowFrags: 16 / frag.M,
        keyBlock,
        kv: 'staged',
        prefetch: true,
      });
      const wide = p.headDim <= 48 ? (p.nq >= 4096 ? [mk(8, 32), mk(4, 32)] : [mk(4, 32)]) : [];
      const candidates = [...wide, mk(2, 32), mk(1, 32)];
      const fit = candidates.find((v) => attentionVariantProblem(rt, p, v) === null);
      if (fit) return fit;
    }
  }
  return portableVariant(p);
}

interface MatrixLayout {
  readonly consts: Record<string, number | boolean | { f32: number }>;
  /** Workgroup memory the kernel declares. */
  readonly bytes: number;
}

function matrixLayout(p: AttentionProblem, v: MatrixVariant, real: boolean): MatrixLayout {
  const { M, N, K } = v.frag;
  const rows = v.rowFrags * M;
  const lanesPerRow = Math.max(1, 32 / rows);
  const dp = Math.ceil(p.headDim / Math.max(N, K, 8)) * Math.max(N, K, 8);
  // Row strides: an odd number of 16-byte units spreads consecutive rows over the banks.
  const ks = (dp / 8) % 2 === 0 ? dp + 8 : dp;
  const ps = (v.keyBlock / 8) % 2 === 0 ? v.keyBlock + 8 : v.keyBlock;
  const ss = v.keyBlock + 4 * lanesPerRow;
  const bq = v.subgroups * rows;
  const kvBuffers = v.ring ? 2 : 1;
  const stage = v.kv === 'staged' ? Math.max(kvBuffers * 2 * v.keyBlock * ks, bq * ks) : bq * ks;
  const threads = v.subgroups * 32;
  const consts = {
    FM: M,
    FN: N,
    FK: K,
    NSG: v.subgroups,
    RQ: v.rowFrags,
    BKEY: v.keyBlock,
    D: p.headDim,
    DP: dp,
    KS: ks,
    PS: ps,
    SS: ss,
    STAGE: stage,
    PF: Math.ceil((v.keyBlock * (dp / 8)) / threads),
    LPR: lanesPerRow,
    CAUSAL: p.causal,
    PREFETCH: v.prefetch,
    RING: v.ring ?? false,
    REAL_SUBGROUPS: real,
    SLACK: { f32: v.slack ?? DEFAULT_SLACK },
    XSKIP: v.skip ?? 0,
  };
  const emulation = real ? 0 : bq * ks * 2;
  const bytes = stage * 2 + v.subgroups * rows * ss * 4 + bq * ps * 2 + 4 + emulation;
  return { consts, bytes };
}

/** Why a variant cannot run a problem on this device, or null if it can. */
export function attentionVariantProblem(rt: Runtime, p: AttentionProblem, v: AttentionVariant): string | null {
  const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
  if (v.kind === 'portable') {
    if (p.headDim % v.threadsPerRow !== 0) return `head dim ${p.headDim} does not split over ${v.threadsPerRow} threads`;
    if (v.rows * v.threadsPerRow > rt.device.limits.maxComputeInvocationsPerWorkgroup) return 'too many threads per workgroup';
    const bytes = portableBytes(p.headDim, v.rows, v.threadsPerRow, v.keyBlock);
    return bytes > limit ? `needs ${bytes} B of workgroup memory` : null;
  }
  if (p.dtype !== 'f16') return 'subgroup matrices take f16';
  if (p.headDim % 8 !== 0) return `head dim ${p.headDim} is not a multiple of 8`;
  if (v.emulated) {
    if (!rt.features.f16 || !rt.features.subgroups) return 'the emulated fragments need shader-f16 and subgroups';
  } else if (!rt.features.subgroups) {
    return 'the tensor-core kernel needs subgroups';
  } else if (!attentionFragments(rt).some((c) => c.M === v.frag.M && c.N === v.frag.N && c.K === v.frag.K)) {
    return `the device has no ${v.frag.M}x${v.frag.N}x${v.frag.K} f16→f32 subgroup matrices`;
  } else if (p.headDim < HARDWARE_MIN_HEAD_DIM || v.keyBlock < 32) {
    // Measured on the H100 (Dawn/Vulkan): head dims 8 and 16, and 16-key blocks with 16×16×16
    // fragments, came out wrong on hardware fragments while the same tiling was exact with
    // emulated ones and for head dims 40, 80, 160. Cause not found yet; keep to what passed.
    return `hardware fragments are only verified for head dims ≥ ${HARDWARE_MIN_HEAD_DIM} and key blocks ≥ 32`;
  }
  const rows = v.rowFrags * v.frag.M;
  if (!Number.isInteger(v.rowFrags) || (rows !== 16 && rows !== 32)) return 'a subgroup must own 16 or 32 query rows';
  if (v.keyBlock % 16 !== 0 || v.keyBlock % v.frag.N !== 0 || v.keyBlock % v.frag.K !== 0) {
    return 'the key block must be a multiple of 16 and of the fragment N and K';
  }
  if (v.subgroups * 32 > rt.device.limits.maxComputeInvocationsPerWorkgroup) return 'too many threads per workgroup';
  if (v.ring && (v.kv !== 'staged' || !v.prefetch)) return 'the K/V ring needs staged K/V with prefetch';
  if (v.kv === 'direct') {
    // Direct fragments read whole key blocks from storage: V rows past a GPU count would enter P·V.
    if (p.countedKeys) return 'direct K/V cannot mask keys past a GPU count';
    if (p.headDim % v.frag.N !== 0 || p.headDim % v.frag.K !== 0) return 'direct K/V fragments must divide the head dim';
    if (p.nk < v.keyBlock) return `direct K/V needs at least ${v.keyBlock} keys`;
  }
  const { bytes } = matrixLayout(p, v, !v.emulated);
  return bytes > limit ? `needs ${bytes} B of workgroup memory` : null;
}

/** The variant with `rolled` decided (see MatrixVariant.rolled), so its name keys its pipeline. */
function withLoops(v: AttentionVariant): AttentionVariant {
  return v.kind !== 'mma' || v.rolled !== undefined ? v : { ...v, rolled: rolledLoops(v) };
}

function rolledLoops(v: MatrixVariant): boolean {
  return v.rolled ?? v.emulated === true;
}

function rowsPerWorkgroup(v: AttentionVariant): number {
  return v.kind === 'portable' ? v.rows : v.subgroups * v.rowFrags * v.frag.M;
}

export interface TokenCounts {
  readonly queries?: DeviceCount;
  readonly keys?: DeviceCount;
}

/** valid_queries() and valid_keys() for the kernels: the uniform sizes, or GPU counts at bindings 5 and 6. */
function countCode(counts: TokenCounts): string {
  const kb = counts.queries ? 6 : 5;
  return (
    countFunction('query_count', 5, counts.queries, 'p.nq') +
    countFunction('key_count', kb, counts.keys, 'p.nk') +
    'fn valid_queries() -> u32 { return min(p.nq, query_count()); }\n' +
    'fn valid_keys() -> u32 { return min(p.nk, key_count()); }\n'
  );
}

/**
 * The WGSL a variant compiles to. Exported for tests: CI has no subgroup matrices, so it builds the
 * hardware fragments' unrolled source without compiling it.
 */
export function kernelCode(p: AttentionProblem, v: AttentionVariant, counts: TokenCounts = {}): string {
  if (v.kind === 'portable') {
    const consts = {
      D: p.headDim,
      G: v.threadsPerRow,
      BQ: v.rows,
      BKEY: v.keyBlock,
      PARTIAL: v.threadsPerRow > 1 ? v.rows * v.threadsPerRow * v.keyBlock : 1,
      CAUSAL: p.causal,
    };
    return specialize(kernelSource('attention.wgsl') + countCode(counts), { dtype: p.dtype, consts });
  }
  const { consts } = matrixLayout(p, v, !v.emulated);
  const kvFile = v.kv === 'staged' ? 'attention_mma_kv_staged.wgsl' : v.emulated ? 'attention_mma_kv_direct_emulated.wgsl' : 'attention_mma_kv_direct.wgsl';
  const core = kernelSource(kvFile) + kernelSource('attention_mma.wgsl') + countCode(counts);
  const loops = (code: string) => (rolledLoops(v) ? code : unrollLoops(code, {}));
  if (v.emulated) return loops(specialize(kernelSource('attention_mma_emulated.wgsl') + core, { dtype: 'f16', enables: ['subgroups'], consts }));
  // Fragment offsets derive from the subgroup index, which the uniformity analysis cannot prove
  // uniform; they are uniform within each subgroup, which is what the hardware needs.
  const code = specialize(kernelSource('attention_mma_ops.wgsl') + core, {
    dtype: 'f16',
    enables: ['subgroups', 'chromium_experimental_subgroup_matrix'],
    consts,
  });
  return 'diagnostic(off, chromium.subgroup_matrix_uniformity);\n' + loops(code);
}

/**
 * q: [B, Nq, heads·d], k and v: [B, Nk, heads·d] — heads interleaved in the last dim exactly as nn.Linear
 * outputs them (head h occupies columns h·d .. h·d+d−1). Returns [B, Nq, heads·d] in the same layout
 * (what the output projection consumes). softmax(q·kᵀ·scale)·v per (batch, head), computed with an
 * online softmax in f32; scores are never written to memory.
 */
export function attention(rt: Runtime, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
  return attentionWith(rt, q, k, v, options).out;
}

/** attention() with an explicit variant (tests, benchmarks); returns the output and the variant that ran. */
export function attentionWith(
  rt: Runtime,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
  variant?: AttentionVariant,
): { out: Tensor; variant: AttentionVariant } {
  const p = attentionProblem(q, k, v, options);
  const chosen = withLoops(variant ?? chooseAttentionVariant(rt, p));
  const why = attentionVariantProblem(rt, p, chosen);
  if (why) throw new Error(`attention: variant ${attentionVariantName(chosen)} cannot run d=${p.headDim} ${p.dtype}: ${why}`);
  const out = options.out ?? rt.empty(q.shape, q.dtype);
  if (out.dtype !== q.dtype || out.shape.length !== 3 || out.shape.some((d, i) => d !== q.shape[i])) {
    throw new Error(`attention: out ${out} must be ${formatShape(q.shape)} ${q.dtype}`);
  }
  if ([q, k, v].some((t) => t.buffer === out.buffer)) throw new Error('attention: out must not share a buffer with q, k or v');
  if (p.nq === 0) return { out, variant: chosen };
  const counts: TokenCounts = { queries: options.validQueries, keys: options.validKeys };
  const counted = `${counts.queries ? ' counted-q' : ''}${counts.keys ? ' counted-k' : ''}`;
  const label = `attention ${attentionVariantName(chosen)} d${p.headDim} ${p.dtype}${p.causal ? ' causal' : ''}${counted}`;
  // Count indices are compiled in (device-count.ts), so they belong to the pipeline's key.
  const key = `${label} @${counts.queries?.index ?? '-'},${counts.keys?.index ?? '-'}`;
  rt.dispatch({
    pipeline: rt.pipeline(key, () => kernelCode(p, chosen, counts)),
    uniforms: new Uniforms().u32(p.nq, p.nk, p.heads).f32(p.scale * LOG2E),
    bindings: [q, k, v, out, ...[counts.queries, counts.keys].flatMap((c) => (c ? [c.tensor] : []))],
    workgroups: [Math.ceil(p.nq / rowsPerWorkgroup(chosen)), p.heads, p.batch],
  });
  return { out, variant: chosen };
}

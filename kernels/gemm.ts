// The one GEMM engine behind linear, matmul and conv2d: picks a kernel variant for the shape and
// the device, assembles its WGSL (operand side gemm-io.wgsl + a core) and records the dispatch.
import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape, type DType } from '../runtime/dtype.js';
import type { SubgroupMatrixConfig } from '../runtime/gpu.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { ACTIVATION_CODE, type Activation } from './activation.js';
import { unrollLoops } from './unroll.js';

/** How B is stored: [K, N], [N, K] (nn.Linear weights), or gathered from an NCHW image (conv). */
export type GemmMode = 'kn' | 'nk' | 'conv';
const MODE_CODE: Record<GemmMode, number> = { kn: 0, nk: 1, conv: 2 };

export interface ConvGeometry {
  readonly cin: number;
  readonly h: number;
  readonly w: number;
  readonly wo: number;
  /** Ho·Wo */
  readonly pixels: number;
  readonly kernel: 1 | 3;
  readonly stride: 1 | 2;
  readonly padTop: number;
  readonly padLeft: number;
}

/** out[b] = epilogue(alpha · A[b] · B[b]); shapes already checked by the caller. */
export interface GemmProblem {
  /** The public kernel name, for pipeline labels and errors. */
  readonly label: string;
  readonly mode: GemmMode;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batch: number;
  readonly a: Tensor;
  readonly b: Tensor;
  readonly out: Tensor;
  /** Elements between consecutive batch matrices of each operand (0 = shared by all). */
  readonly aBatch: number;
  readonly bBatch: number;
  readonly outBatch: number;
  readonly alpha?: number;
  /** [N] (one per column) for kn/nk unless biasPerRow; [M] (output channels) for conv. */
  readonly bias?: Tensor;
  /** The bias has one value per row of C ([M]): a convolution lowered to a plain GEMM. */
  readonly biasPerRow?: boolean;
  /** Same shape as out, added last. */
  readonly residual?: Tensor;
  /** B is conv2d's im2col matrix ([K, pixels] per image): tiles are chosen from conv sweeps. */
  readonly im2col?: boolean;
  readonly activation?: Activation;
  readonly conv?: ConvGeometry;
}

/** Register-tiled kernel for every device: 16x16 threads, each TM x TN outputs. */
export interface TiledVariant {
  readonly kind: 'tiled';
  readonly tm: 4 | 8;
  readonly tn: 4 | 8;
  readonly bk: number;
  /** K slices run by separate workgroups (see MatrixVariant.splitK). Default 1. */
  readonly splitK?: number;
}

/** Subgroup-matrix kernel: sgM x sgN subgroups, each fm x fn fragments of the config's shape. */
export interface MatrixVariant {
  readonly kind: 'tc' | 'tc-direct';
  readonly sgM: number;
  readonly sgN: number;
  readonly fm: number;
  readonly fn: number;
  /** K per staged tile ('tc' only). */
  readonly bk: number;
  readonly frag: SubgroupMatrixConfig;
  /**
   * 'tc' staging: 'vec' keeps tiles as vec4<f16> (8-byte stores, templated fragment loads),
   * 'f16' as single halves with the original load form. Default 'vec'.
   */
  readonly stage?: 'vec' | 'f16';
  /** 'tc' launch order: bands of this many row tiles (L2 reuse), or row by row (0, the default). */
  readonly groupM?: number;
  /**
   * 'tc' only (not 'tc-direct'): K is cut into this many slices run by separate workgroups, whose
   * f32 partial sums a second kernel adds up and puts through the epilogue (more workgroups where
   * M·N gives few). Default 1.
   */
  readonly splitK?: number;
  /**
   * 'tc' only, interior problems only (see interior()): 'memory' stores the result fragments
   * straight to an f32 buffer (a split's partial sums, or a plane the workgroup reads back through
   * the epilogue) instead of through per-subgroup workgroup scratch, leaving that workgroup memory
   * to the tiles (deeper K steps at 128x128). Default 'workgroup'.
   */
  readonly results?: 'workgroup' | 'memory';
  /**
   * 'tc' only: fragments emulated on plain workgroup arrays (gemm-tc-emulated.wgsl), so the
   * kernel's tiling is tested on devices without subgroup matrices; needs only shader-f16.
   */
  readonly emulated?: boolean;
  /**
   * 'tc' only: how many K steps the global loads run ahead of the multiplies (register stages;
   * the workgroup tiles stay double-buffered). Default 1.
   */
  readonly ahead?: 1 | 2 | 3;
  /**
   * 'tc' only, results through memory, one batch matrix, no split: stream-K over this many
   * workgroups (the device's SMs times the workgroups each holds at once). The tiles of the last,
   * partial wave have their K steps shared out evenly among that many workgroups, and a second
   * pass adds up the parts (gemm-stream-reduce.wgsl). Default: off.
   */
  readonly streamK?: number;
}

export type GemmVariant = TiledVariant | MatrixVariant;

export function tileShape(v: GemmVariant): { bm: number; bn: number } {
  if (v.kind === 'tiled') return { bm: 16 * v.tm, bn: 16 * v.tn };
  return { bm: v.sgM * v.fm * v.frag.M, bn: v.sgN * v.fn * v.frag.N };
}

export function variantName(v: GemmVariant): string {
  const { bm, bn } = tileShape(v);
  const split = splitOf(v) > 1 ? ` split${splitOf(v)}` : '';
  if (v.kind === 'tiled') return `tiled ${bm}x${bn} k${v.bk}${split}`;
  const frag = `${v.frag.M}x${v.frag.N}x${v.frag.K}`;
  if (v.kind === 'tc-direct') return `tc-direct ${bm}x${bn} sg${v.sgM}x${v.sgN} f${frag}`;
  const extras = `${(v.ahead ?? 1) > 1 ? ` ahead${v.ahead}` : ''}${v.streamK ? ` sk${v.streamK}` : ''}${v.results === 'memory' ? ' via-memory' : ''}${v.emulated ? ' emulated' : ''}`;
  return `tc ${bm}x${bn} k${v.bk} sg${v.sgM}x${v.sgN} f${frag}${v.stage === 'f16' ? ' f16-stage' : ''}${v.groupM ? ` band${v.groupM}` : ''}${split}${extras}`;
}

/** The f16 → f32-accumulate fragment shape to use, or undefined without subgroup matrices. */
export function matrixFragment(rt: Runtime, dtype: DType): SubgroupMatrixConfig | undefined {
  if (dtype !== 'f16' || !rt.features.subgroupMatrix) return undefined;
  const usable = rt.features.subgroupMatrixConfigs.filter(
    (c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M % 4 === 0 && c.N % 4 === 0 && c.K % 4 === 0,
  );
  // Prefer 16x16x16 (one fragment covers the most work per load), then the largest.
  return usable.find((c) => c.M === 16 && c.N === 16 && c.K === 16) ?? usable.sort((x, y) => y.M * y.N * y.K - x.M * x.N * x.K)[0];
}

/** Why a variant cannot run this problem on this device, or null if it can. */
export function variantProblem(rt: Runtime, p: GemmProblem, v: GemmVariant): string | null {
  const limit = rt.device.limits.maxComputeWorkgroupStorageSize;
  const { bm, bn } = tileShape(v);
  const split = splitOf(v);
  const viaMemory = resultsViaMemory(v);
  if (viaMemory) {
    if (v.kind !== 'tc') return "only the staged core ('tc') stores results through memory";
    if (!interior(p, v)) return 'results through memory need whole interior tiles (M, N multiples of the tile, K of BK, 4-aligned rows)';
  }
  if (v.kind !== 'tiled' && v.streamK !== undefined) {
    if (v.kind !== 'tc' || !viaMemory) return 'stream-K needs the staged core with results through memory';
    if (!Number.isInteger(v.streamK) || v.streamK < 1) return `stream-K over ${v.streamK} workgroups`;
    if (split > 1 || p.batch > 1 || v.groupM) return 'stream-K runs one batch matrix, unsplit, in plain launch order';
    if (tileCount(p, v) + v.streamK > rt.device.limits.maxComputeWorkgroupsPerDimension) return `stream-K over ${tileCount(p, v)} tiles`;
  }
  if (split > 1 || viaMemory) {
    const bytes = (split * p.batch * p.m * p.n + streamKParts(p, v)) * 4;
    if (bytes > rt.device.limits.maxStorageBufferBindingSize) return `f32 results need ${bytes} B`;
  }
  if (split > 1) {
    const tiles = Math.ceil(p.k / v.bk);
    if (!Number.isInteger(split) || tiles % split) return `split-K ${split} must divide the ${tiles} K tiles`;
    if (p.n % 4) return 'split-K partial sums need N to be a multiple of 4';
    if (p.m > rt.device.limits.maxComputeWorkgroupsPerDimension) return `split-K reduction over ${p.m} rows`;
  }
  if (v.kind === 'tiled') {
    if (v.bk % 4 !== 0 || (bm * v.bk) % 1024 !== 0 || (bn * v.bk) % 1024 !== 0) return 'each thread must load whole vec4s of both tiles';
    const bytes = 2 * v.bk * (bm / 4 + 1 + bn / 4 + 1) * 16;
    return bytes > limit ? `needs ${bytes} B of workgroup memory` : null;
  }
  if (v.emulated) {
    if (v.kind !== 'tc') return "only the staged core ('tc') has emulated fragments";
    if (p.a.dtype !== 'f16' || !rt.features.f16) return 'emulated fragments need f16 and shader-f16';
  } else if (p.a.dtype !== 'f16' || !rt.features.subgroupMatrix) {
    return 'subgroup matrices need f16 and the device feature';
  }
  const threads = v.sgM * v.sgN * 32;
  if (threads > rt.device.limits.maxComputeInvocationsPerWorkgroup) return `${threads} threads per workgroup`;
  const scratch = (viaMemory ? 1 : v.sgM * v.sgN) * v.frag.M * v.frag.N * 4;
  if ((v.frag.M * v.frag.N) % 128) return 'the epilogue reads whole fragments as 32 lanes x vec4';
  if (v.kind === 'tc-direct') {
    if (p.mode === 'conv') return 'conv gathers B; direct fragment loads need a plain matrix';
    if (p.m % bm || p.n % bn || p.k % v.frag.K) return 'direct fragment loads need M, N multiples of the tile and K of the fragment';
    return scratch > limit ? `needs ${scratch} B of workgroup memory` : null;
  }
  if (v.bk % v.frag.K || v.bk % 4) return 'BK must be a multiple of the fragment K and of 4';
  // A one-subgroup workgroup hung the H100 (an INTERIOR matmul, 64x48x32) in testing.
  if (v.sgM * v.sgN < 2) return 'staged subgroup-matrix kernels need at least two subgroups';
  if (p.mode !== 'nk' && threads % (bn / 4)) return 'threads must cover the tile width in vec4s';
  const aTile = bm * (v.bk + 8);
  const bTile = p.mode === 'nk' ? bn * (v.bk + 8) : v.bk * (bn + 8);
  const bytes = 2 * (aTile + bTile) * 2 + scratch;
  return bytes > limit ? `needs ${bytes} B of workgroup memory` : null;
}

const TILED: readonly TiledVariant[] = [
  { kind: 'tiled', tm: 8, tn: 8, bk: 8 },
  { kind: 'tiled', tm: 4, tn: 4, bk: 16 },
];

/**
 * The variant for a shape, from sweeps on an H100 (Dawn/Vulkan, November 2026):
 * - subgroup matrices (f16): every subgroup owns 2x2 fragments (more ran 2-4x slower). Large plain
 *   matrices run 128x128 tiles of 4x4 subgroups with K steps of 16 (4096³: 96.6 TFLOP/s vs 89.5
 *   on 64x64 tiles of 2x2 subgroups, which the rest use), or with deep K (DEEP_K) K steps of 32,
 *   results through memory and loads three K steps ahead (December 2026, H100: 98.3–98.4 against
 *   90.0–94.9 two ahead, 88.6–91.8 one ahead and 84.2–85.8 for K steps of 16), with the last
 *   partial wave of tiles shared out by stream-K (4096³: 101.9–102.0 TFLOP/s of GPU time against
 *   98.3–98.8; 4352x4096x4096 98.0–99.7 against 93.4–94.0); a gathered conv2d with at least 256
 *   output channels and enough pixels ran best on 128x64 tiles of 4x2 subgroups. Small grids split
 *   K (withSplit; 1280→1280 conv at 8x8: 17 TFLOP/s split 8 ways, 10.6 whole). Convs through
 *   im2col with whole 128-pixel tiles run 64x128 tiles of 2x4 subgroups, split until there are
 *   about 32 subgroups per SM (December 2026: 320→320 at 64² 51.5–53.7 TFLOP/s split 2, against
 *   43.6 on the former 64x64 unsplit and 40.9–48.6 on 64x64 split 2; 640→640 at 32² 50.0 split 2,
 *   45.3 on 64x64 split 2), on K steps of 16 with loads two ahead (H100: 50.3–50.7 against
 *   41.6–47.2 for K steps of 32 one ahead); where 160 divides the channels, 160x128 tiles of 5x4
 *   subgroups through memory, K steps of 32, loads two ahead (bar conv 54.4–57.3 against
 *   50.8–52.4 on 64x128 in the same processes), split only below one workgroup per SM;
 * - portable path: 128x128 register tiles (8x8 per thread, K step 8) once there are ≳ 2
 *   workgroups per SM (4096³ f32: 36 TFLOP/s), 64x64 tiles (4x4 per thread) otherwise.
 */
export function chooseVariant(rt: Runtime, p: GemmProblem): GemmVariant {
  const frag = matrixFragment(rt, p.a.dtype);
  const groups = (v: GemmVariant) => tileCount(p, v) * p.batch;
  if (frag) {
    const mk = (sgM: number, sgN: number, fm: number, fn: number, bk: number): MatrixVariant => ({ kind: 'tc', sgM, sgN, fm, fn, bk, frag });
    const wide = mk(4, 2, 2, 2, 32);
    const square = mk(2, 2, 2, 2, 32);
    const large = mk(4, 4, 2, 2, 16);
    // Im2col convs: 160-row tiles through memory where they cover the channels (every U-Net
    // conv: 320, 640, 1280; refused where the shape is not interior), else 64x128 tiles with K
    // steps of 16; loads two steps ahead.
    const tall160: MatrixVariant = { ...mk(5, 4, 2, 2, 32), results: 'memory', ahead: 2 };
    const tall: MatrixVariant = { ...mk(2, 4, 2, 2, 16), ahead: 2 };
    // Deep K: K steps of 32 in the workgroup memory that results through memory free (refused
    // where the shape is not interior), loads three steps ahead, stream-K where the device's SM
    // count is known.
    const slots = p.batch === 1 ? streamKSlots(rt) : undefined;
    const streamK = slots === undefined ? {} : { streamK: slots };
    const largeViaMemory: MatrixVariant[] = p.k >= DEEP_K ? [{ ...mk(4, 4, 2, 2, 32), results: 'memory', ahead: 3, ...streamK }] : [];
    const candidates =
      p.im2col && p.n % tileShape(tall).bn === 0
        ? [...(p.m % tileShape(tall160).bm === 0 ? [tall160] : []), tall, square]
        : p.mode === 'conv'
        ? p.m >= 256 && groups(wide) >= 256
          ? [wide, square]
          : [square]
        : groups(large) >= BUSY_GROUPS
          ? [...largeViaMemory, large, square]
          : [square];
    const pick = candidates.find((v) => variantProblem(rt, p, v) === null);
    if (pick) return withSplit(rt, p, pick, groups(pick), pick === tall160 ? { groups: ONE_WAVE } : splitTarget(rt, p));
  }
  const fits = TILED.filter((v) => variantProblem(rt, p, v) === null);
  return fits.find((v) => groups(v) >= 256) ?? fits[fits.length - 1]!;
}

/**
 * Workgroups of the deep-K kernel (128x128 tiles through memory) that run at once, on devices
 * where it was measured: one per SM of an H100's (and H200's) 132. December 2026, H100, GPU time:
 * 992, 1024 and 1056 tiles of a 4096-deep GEMM took 1.39-1.41 ms, 1088 tiles 1.58 ms.
 */
function streamKSlots(rt: Runtime): number | undefined {
  const a = rt.gpu.adapterInfo;
  const name = `${a.description} ${a.device}`;
  return /H[12]00/i.test(name) && !/PCIe/i.test(name) ? 132 : undefined;
}

/**
 * From this K on, large GEMMs store results through memory for K steps of 32 (4096³ on the H200,
 * December 2026: 90.8-91.2 TFLOP/s against 82.4 for K steps of 16; H100 92.2-94.1 against 81-85);
 * at K = 320 (the first-level linear) that lost, 45.0 against 54.0. Between the two, unmeasured.
 */
const DEEP_K = 1024;
/** 128x128 tiles only when they still give this many workgroups (about four per SM on an H100). */
const BUSY_GROUPS = 512;
/** Split K only below this many workgroups: up to it, more slices cost more than they gain. */
const SPLIT_BELOW = 320;
/**
 * Im2col convs (and, with the 'gemm-split-warps' candidate, every GEMM) with enough workgroups but
 * fewer subgroups than this (about 32 per SM of an H100's 132) split K too: the bar conv (320→320
 * at 64², batch 2) has 320 workgroups of 8 subgroups on 64x128 tiles, 19 subgroups per SM.
 */
const SPLIT_BELOW_WARPS = 4096;
/** Fewer K tiles per slice than this and the partial sums cost more than the slices gain. */
const MIN_SLICE_TILES = 4;

/**
 * Where withSplit stops cutting K: once the grid has `groups` workgroups, or, with `warps` and at
 * least `groups` workgroups unsplit, once it has that many subgroups.
 */
interface SplitTarget {
  readonly groups: number;
  readonly warps?: number;
}

/** Im2col convs (every GEMM with the 'gemm-split-warps' candidate) count subgroups; the rest workgroups. */
function splitTarget(rt: Runtime, p: GemmProblem): SplitTarget {
  return p.im2col || rt.candidates.has('gemm-split-warps') ? { groups: SPLIT_BELOW, warps: SPLIT_BELOW_WARPS } : { groups: SPLIT_BELOW };
}

/**
 * Im2col convs on 160-row tiles split only below one workgroup per SM of an H100 (the bar conv's
 * 128 ran 54.4–57.3 TFLOP/s whole against 52.4–55.6 split 2, December 2026).
 */
const ONE_WAVE = 128;

/**
 * v with its K split into the fewest slices that reach the target (or the most that keep
 * MIN_SLICE_TILES each), where the tile grid alone falls short (deep U-Net levels: a
 * 1280-channel conv at 8x8 is 40 tiles).
 */
function withSplit(rt: Runtime, p: GemmProblem, v: MatrixVariant, groups: number, target: SplitTarget): MatrixVariant {
  const warps = groups * v.sgM * v.sgN;
  const warpTarget = groups >= target.groups ? target.warps : undefined;
  const busy = (slices: number) => (warpTarget !== undefined ? warps * slices >= warpTarget : groups * slices >= target.groups);
  if (busy(1)) return v;
  const tiles = Math.ceil(p.k / v.bk);
  let best = v;
  for (let split = 2; tiles / split >= MIN_SLICE_TILES; split++) {
    if (tiles % split) continue;
    const candidate = { ...v, splitK: split };
    if (variantProblem(rt, p, candidate) !== null) break;
    best = candidate;
    if (busy(split)) break;
  }
  return best;
}

/** Software rasterisers compile unrolled tile loops next to barriers very slowly (see gemm-tiled.wgsl). */
function cpuCompiler(rt: Runtime): boolean {
  const a = rt.gpu.adapterInfo;
  return /llvmpipe|lavapipe|swiftshader/i.test(`${a.description} ${a.device} ${a.architecture}`);
}

const MATRIX_ENABLES = ['chromium_experimental_subgroup_matrix'];

/**
 * The WGSL a variant compiles to on this device (unrolled and scalarized for GPU compilers).
 * Exported for tests: CPU drivers never see the unrolled source, so CI builds it without compiling.
 */
export function kernelCode(rt: Runtime, p: GemmProblem, v: GemmVariant): string {
  const conv = p.conv;
  const unroll = !cpuCompiler(rt);
  // GPU compilers get every marked loop unrolled (see unroll.ts); CPU ones keep them rolled.
  const unrolled = (code: string) => (unroll ? unrollLoops(code, {}) : code);
  const consts: Record<string, number | boolean> = {
    MODE: MODE_CODE[p.mode],
    KH: conv?.kernel ?? 1,
    KW: conv?.kernel ?? 1,
    UNROLL: unroll,
    ...alignment(p),
  };
  if (v.kind === 'tiled') {
    Object.assign(consts, { TM: v.tm, TN: v.tn, BK: v.bk, SPLIT_K: splitOf(v) });
    return unrolled(specialize(kernelSource('gemm-io.wgsl') + kernelSource('gemm-tiled.wgsl'), { dtype: p.a.dtype, consts }));
  }
  Object.assign(consts, { SM: v.frag.M, SN: v.frag.N, SK: v.frag.K, SG_M: v.sgM, SG_N: v.sgN, FM: v.fm, FN: v.fn, BK: v.bk, INTERIOR: interior(p, v), GROUP_M: v.groupM ?? 0, SPLIT_K: splitOf(v), RESULTS_GLOBAL: resultsViaMemory(v), FETCH_AHEAD: v.ahead ?? 1, STREAM_K: v.streamK !== undefined });
  if (v.emulated) {
    return unrolled(specialize(kernelSource('gemm-io.wgsl') + kernelSource('gemm-tc.wgsl') + kernelSource('gemm-tc-emulated.wgsl'), { dtype: p.a.dtype, consts }));
  }
  const core =
    v.kind === 'tc'
      ? kernelSource('gemm-tc.wgsl') + kernelSource('gemm-tc-frag.wgsl') + kernelSource(v.stage === 'f16' ? 'gemm-tc-stage-f16.wgsl' : 'gemm-tc-stage-vec.wgsl')
      : kernelSource('gemm-tc-direct.wgsl');
  const enables = rt.features.subgroups ? ['subgroups', ...MATRIX_ENABLES] : MATRIX_ENABLES;
  // Fragment offsets derive from the subgroup index, which Tint's uniformity analysis cannot
  // prove uniform; they are uniform per subgroup because subgroups are whole 32-lane groups.
  return (
    'diagnostic(off, chromium.subgroup_matrix_uniformity);\n' +
    unrolled(specialize(kernelSource('gemm-io.wgsl') + core, { dtype: p.a.dtype, enables, consts }))
  );
}

function resultsViaMemory(v: GemmVariant): boolean {
  return v.kind !== 'tiled' && v.results === 'memory';
}

function splitOf(v: GemmVariant): number {
  return v.kind === 'tc-direct' ? 1 : (v.splitK ?? 1);
}

/** The second pass of a split-K GEMM (gemm-reduce.wgsl) for this problem's layout. */
function reducePipeline(rt: Runtime, p: GemmProblem, split: number): GPUComputePipeline {
  const consts = { MODE: MODE_CODE[p.mode], KH: p.conv?.kernel ?? 1, KW: p.conv?.kernel ?? 1, UNROLL: false, SPLIT_K: split, ...alignment(p) };
  const { A_VEC, B_VEC, OUT_VEC } = consts;
  const key = `${p.label} split-K sum ${p.a.dtype} ${p.mode}${p.conv ? p.conv.kernel : ''} a${+A_VEC}b${+B_VEC}o${+OUT_VEC} x${split}`;
  return rt.pipeline(key, () => specialize(kernelSource('gemm-io.wgsl') + kernelSource('gemm-reduce.wgsl'), { dtype: p.a.dtype, consts }));
}

/** The second pass of a stream-K GEMM (gemm-stream-reduce.wgsl) for this problem's layout and tile. */
function streamReducePipeline(rt: Runtime, p: GemmProblem, v: MatrixVariant): GPUComputePipeline {
  const { bm, bn } = tileShape(v);
  const consts = { MODE: MODE_CODE[p.mode], KH: 1, KW: 1, UNROLL: false, BM: bm, BN: bn, BK: v.bk, ...alignment(p) };
  const { A_VEC, B_VEC, OUT_VEC } = consts;
  const key = `${p.label} stream-K sum ${p.a.dtype} ${p.mode} a${+A_VEC}b${+B_VEC}o${+OUT_VEC} ${bm}x${bn}k${v.bk}`;
  return rt.pipeline(key, () => specialize(kernelSource('gemm-io.wgsl') + kernelSource('gemm-stream-reduce.wgsl'), { dtype: p.a.dtype, consts }));
}

/** Output tiles of one batch matrix. */
function tileCount(p: GemmProblem, v: GemmVariant): number {
  const { bm, bn } = tileShape(v);
  return Math.ceil(p.m / bm) * Math.ceil(p.n / bn);
}

/** Parts a stream-K tile can have (SK_PARTS in gemm-io.wgsl): every worker runs at least half a tile. */
const SK_PARTS = 3;

/**
 * How a stream-K variant cuts this problem: `whole` tiles one workgroup each, then `workers`
 * sharing the other `tail` tiles' K steps, at most two workers per tail tile so each runs at
 * least half a tile (a worker's loads restart with every part). No tail: plain tiles.
 */
function streamKCut(p: GemmProblem, v: GemmVariant): { whole: number; workers: number; tail: number } | null {
  if (v.kind !== 'tc' || v.streamK === undefined) return null;
  const tiles = tileCount(p, v);
  const tail = tiles % v.streamK;
  return { whole: tiles - tail, workers: Math.min(v.streamK, 2 * tail), tail };
}

/** f32 elements the stream-K parts take after the M x N plane. */
function streamKParts(p: GemmProblem, v: GemmVariant): number {
  const cut = streamKCut(p, v);
  if (!cut) return 0;
  const { bm, bn } = tileShape(v);
  return cut.tail * SK_PARTS * bm * bn;
}

/** Which operands may be read and written four aligned elements at a time (see gemm-io.wgsl). */
function alignment(p: GemmProblem): { A_VEC: boolean; B_VEC: boolean; OUT_VEC: boolean } {
  const conv = p.mode === 'conv';
  return {
    A_VEC: p.k % 4 === 0,
    B_VEC: !conv && (p.mode === 'nk' ? p.k : p.n) % 4 === 0,
    OUT_VEC: (conv ? p.conv!.pixels : p.n) % 4 === 0,
  };
}

/** Whether every tile of a staged subgroup-matrix kernel lies inside A and B with 4-aligned rows (no bounds checks). */
function interior(p: GemmProblem, v: GemmVariant): boolean {
  if (v.kind !== 'tc' || p.mode === 'conv') return false;
  const { bm, bn } = tileShape(v);
  const { A_VEC, B_VEC } = alignment(p);
  return A_VEC && B_VEC && p.m % bm === 0 && p.n % bn === 0 && p.k % v.bk === 0;
}

/** Binds a tensor as an array of vec4s: its size rounded up to 16 bytes (pool buffers are 16-byte multiples). */
function vec4Binding(t: Tensor): GPUBufferBinding {
  t.assertLive();
  return { buffer: t.buffer, offset: 0, size: Math.min(t.buffer.size, Math.ceil(t.byteLength / 16) * 16) };
}

/**
 * The compiled kernel for a problem's layout and a variant. Generating the unrolled WGSL takes
 * milliseconds, so the key names everything the source depends on and the source is built only
 * on a cache miss (Runtime.pipeline with a source function), not once per call.
 */
function pipelineFor(rt: Runtime, p: GemmProblem, v: GemmVariant): GPUComputePipeline {
  const { A_VEC, B_VEC, OUT_VEC } = alignment(p);
  const layout = `${p.mode}${p.conv ? p.conv.kernel : ''} a${+A_VEC}b${+B_VEC}o${+OUT_VEC}i${+interior(p, v)}`;
  return rt.pipeline(`${p.label} ${p.a.dtype} ${layout} ${variantName(v)}`, () => kernelCode(rt, p, v));
}

const standIns = new WeakMap<Runtime, { input: Tensor; partials: Tensor }>();

/**
 * Small buffers bound where an optional operand is absent: `input` for bias and residual, and
 * `partials` for the split-K sums (writable, so it cannot share the read-only stand-in's buffer).
 * `partials` holds a whole 32x32 f32 fragment: with hardware fragments the kernel stores results
 * there with subgroupMatrixStore (never run when the variant keeps results in workgroup memory),
 * and Dawn sizes that binding's minimum to one result fragment (1 KB for 16x16 on the H100).
 */
function standIn(rt: Runtime): { input: Tensor; partials: Tensor } {
  let t = standIns.get(rt);
  if (!t || t.input.isDisposed || t.partials.isDisposed) {
    t = { input: rt.keep(rt.zeros([4], 'f32')), partials: rt.keep(rt.zeros([32 * 32], 'f32')) };
    standIns.set(rt, t);
  }
  return t;
}

interface Plan {
  readonly variant: GemmVariant;
  readonly pipeline: GPUComputePipeline;
  /** The split-K sum (gemm-reduce.wgsl) or stream-K sum (gemm-stream-reduce.wgsl), when the variant needs one. */
  readonly reduce: GPUComputePipeline | null;
}

const plans = new WeakMap<Runtime, Map<string, Plan>>();

/**
 * The chosen variant and its pipeline, remembered per problem layout: a U-Net evaluation records
 * the same few hundred GEMMs again, and choosing and naming them is host time on every step.
 */
function plan(rt: Runtime, p: GemmProblem): Plan {
  let cache = plans.get(rt);
  if (!cache) plans.set(rt, (cache = new Map()));
  const key = `${p.label} ${p.mode} ${p.a.dtype} ${p.m} ${p.n} ${p.k} ${p.batch} ${p.conv ? `${p.conv.kernel} ${p.conv.pixels}` : ''}`;
  let found = cache.get(key);
  if (!found) {
    found = planWith(rt, p, chooseVariant(rt, p));
    cache.set(key, found);
  }
  return found;
}

function planWith(rt: Runtime, p: GemmProblem, v: GemmVariant): Plan {
  const why = variantProblem(rt, p, v);
  if (why) throw new Error(`${p.label}: variant ${variantName(v)} cannot run this shape: ${why}`);
  const split = splitOf(v);
  const reduce = split > 1 ? reducePipeline(rt, p, split) : v.kind === 'tc' && v.streamK !== undefined ? streamReducePipeline(rt, p, v) : null;
  return { variant: v, pipeline: pipelineFor(rt, p, v), reduce };
}

/** Records one GEMM; returns the variant that ran. */
export function gemm(rt: Runtime, p: GemmProblem, variant?: GemmVariant): GemmVariant {
  const { variant: v, pipeline, reduce } = variant ? planWith(rt, p, variant) : plan(rt, p);
  for (const input of [p.a, p.b, p.bias, p.residual]) {
    if (input && input.buffer === p.out.buffer) {
      throw new Error(`${p.label}: the output ${p.out} shares a buffer with an input; WebGPU forbids writing a bound input`);
    }
  }
  const { bm, bn } = tileShape(v);
  const split = splitOf(v);
  const cut = streamKCut(p, v);
  const workgroups = cut ? ([cut.whole + cut.workers, 1, 1] as const) : ([Math.ceil(p.n / bn), Math.ceil(p.m / bm), p.batch * split] as const);
  const max = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups.some((w) => w > max)) {
    throw new Error(`${p.label}: ${p.m}x${p.n} (batch ${p.batch}) needs ${workgroups.join('x')} workgroups, over the limit ${max}`);
  }
  const c = p.conv;
  const uniforms = new Uniforms()
    .u32(p.m, p.n, p.k)
    .f32(p.alpha ?? 1)
    .u32(p.aBatch, p.bBatch, p.outBatch)
    .u32(c?.cin ?? 0, c?.h ?? 0, c?.w ?? 0, c?.wo ?? 0, c?.pixels ?? 0, c?.padTop ?? 0, c?.padLeft ?? 0, c?.stride ?? 1)
    .u32(p.bias ? (p.biasPerRow || p.mode === 'conv' ? 2 : 1) : 0, p.residual ? 1 : 0, ACTIVATION_CODE[p.activation ?? 'none'], 0)
    .u32(cut?.whole ?? 0, cut?.workers ?? 0);
  const stand = standIn(rt);
  const epilogue = [vec4Binding(p.out), p.bias ?? stand.input, vec4Binding(p.residual ?? stand.input)];
  // The direct core cannot split K, so its layout leaves the partial sums out.
  const partials = split > 1 || resultsViaMemory(v) ? rt.empty([split * p.batch * p.m * p.n + streamKParts(p, v)], 'f32') : null;
  const partialBinding = v.kind === 'tc-direct' ? null : (partials ?? stand.partials);
  rt.dispatch({ pipeline, uniforms, bindings: [vec4Binding(p.a), vec4Binding(p.b), ...epilogue, partialBinding], workgroups });
  if (partials && reduce && (!cut || cut.workers > 0)) {
    rt.dispatch({
      pipeline: reduce,
      uniforms,
      bindings: [null, null, ...epilogue, partials],
      workgroups: cut ? [(bm * bn) / 256, cut.tail, 1] : [Math.ceil(p.n / 256), p.m, p.batch],
    });
  }
  partials?.dispose();
  return v;
}

/** Throws unless every given tensor has x's dtype. */
export function checkDTypes(kernel: string, x: Tensor, ...others: (Tensor | undefined)[]): void {
  for (const t of others) {
    if (t && t.dtype !== x.dtype) throw new Error(`${kernel}: dtypes differ (${x} and ${t})`);
  }
}

/** Throws unless t has exactly this shape. */
export function checkShape(kernel: string, what: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${kernel}: ${what} ${formatShape(t.shape)} must be ${formatShape(shape)}`);
  }
}

import t from 'tap';
import type tap from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { linear, matmul, type Activation } from '../../kernels/matmul.js';
import { matrixFragment, variantName, variantProblem, type GemmProblem, type GemmVariant } from '../../kernels/gemm.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { DType } from '../../runtime/dtype.js';

// erf in double precision: 2/√π · e^{-x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)), all terms positive.
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 400 && term > 1e-17 * sum; n++) {
    term *= (2 * ax * ax) / (2 * n + 1);
    sum += term;
  }
  return (Math.sign(x) * 2 * Math.exp(-ax * ax) * sum) / Math.sqrt(Math.PI);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const ACTIVATIONS: Record<Activation, (x: number) => number> = {
  none: (x) => x,
  silu: (x) => x * sigmoid(x),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
  quick_gelu: (x) => x * sigmoid(1.702 * x),
};

/** C[b] = alpha · A[b] · B[b] with B [K, N] or, transposed, [N, K]; batch 0 of an operand is shared. */
function refMatmul(
  a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number,
  opts: { transposeB?: boolean; aShared?: boolean; bShared?: boolean; alpha?: number } = {},
): Float32Array {
  const out = new Float32Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    const ao = opts.aShared ? 0 : z * m * k;
    const bo = opts.bShared ? 0 : z * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a[ao + i * k + q]! * b[bo + (opts.transposeB ? j * k + q : q * n + j)]!;
        out[z * m * n + i * n + j] = s * (opts.alpha ?? 1);
      }
    }
  }
  return out;
}

function refLinear(x: Float32Array, w: Float32Array, rows: number, k: number, n: number, bias?: Float32Array, act: Activation = 'none', residual?: Float32Array): Float32Array {
  const out = refMatmul(x, w, 1, rows, k, n, { transposeB: true });
  for (let i = 0; i < out.length; i++) {
    let v = ACTIVATIONS[act](out[i]! + (bias ? bias[i % n]! : 0));
    if (residual) v += residual[i]!;
    out[i] = v;
  }
  return out;
}

function inputs(n: number, seed: number, dtype: DType, scale = 1): Float32Array {
  const v = seededValues(n, seed, -scale, scale);
  return dtype === 'f16' ? roundToF16(v) : v;
}

/**
 * The variants to cover: the per-shape default (undefined) always, every other one on a GPU.
 * Lavapipe takes seconds per pipeline, so there the others run once, in f32 only.
 */
function variants(rt: Runtime, dtype: DType): (GemmVariant | undefined)[] {
  const list: (GemmVariant | undefined)[] = [undefined];
  if (slowCompiler(rt) && dtype !== 'f32') return list;
  list.push({ kind: 'tiled', tm: 8, tn: 8, bk: 8 }, { kind: 'tiled', tm: 4, tn: 4, bk: 16 });
  if (!slowCompiler(rt)) list.push({ kind: 'tiled', tm: 8, tn: 8, bk: 16 }, { kind: 'tiled', tm: 8, tn: 4, bk: 16 });
  const frag = matrixFragment(rt, dtype);
  if (frag) {
    list.push(
      { kind: 'tc', sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 32, frag },
      { kind: 'tc', sgM: 2, sgN: 2, fm: 2, fn: 2, bk: 32, frag },
      { kind: 'tc', sgM: 4, sgN: 2, fm: 2, fn: 2, bk: 16, frag },
      { kind: 'tc-direct', sgM: 2, sgN: 2, fm: 1, fn: 1, bk: 0, frag },
      { kind: 'tc-direct', sgM: 1, sgN: 2, fm: 2, fn: 1, bk: 0, frag },
    );
  }
  return list;
}

function slowCompiler(rt: Runtime): boolean {
  const a = rt.gpu.adapterInfo;
  return /llvmpipe|lavapipe|swiftshader/i.test(`${a.description} ${a.device} ${a.architecture}`);
}

/** Whether v can run a problem of this shape (tc-direct needs tile-aligned shapes). */
function runs(rt: Runtime, v: GemmVariant | undefined, mode: 'kn' | 'nk', m: number, n: number, k: number, dtype: DType): boolean {
  if (!v) return true;
  const probe = { label: 'probe', mode, m, n, k, batch: 1, a: { dtype }, conv: undefined } as unknown as GemmProblem;
  return variantProblem(rt, probe, v) === null;
}

/** linear with every epilogue stage (bias, activation, residual) against refLinear; inputs seeded from `seed`. */
async function checkFullLinear(
  t: Pick<typeof tap, 'ok'>,
  rt: Runtime,
  [m, k, n]: readonly [number, number, number],
  dtype: DType,
  activation: Activation,
  seed: number,
  v: GemmVariant | undefined,
): Promise<void> {
  const x = inputs(m * k, seed, dtype);
  const w = inputs(n * k, seed + 1, dtype);
  const bias = inputs(n, seed + 2, dtype);
  const res = inputs(m * n, seed + 3, dtype);
  const want = refLinear(x, w, m, k, n, bias, activation, res);
  const got = await rt.read(
    rt.tidy(() =>
      linear(rt, rt.upload(x, [m, k], dtype), rt.upload(w, [n, k], dtype), {
        bias: rt.upload(bias, [n], dtype),
        activation,
        residual: rt.upload(res, [m, n], dtype),
        variant: v,
      }),
    ),
  );
  const err = maxRelError(got, want);
  const name = v ? variantName(v) : 'default';
  t.ok(err <= KERNEL_TOLERANCE[dtype], `linear+bias+${activation}+residual ${dtype} ${m}x${k}x${n} [${name}] err ${err.toExponential(2)}`);
}

/** Batched alpha · a[b] · b[b] against refMatmul; `label` starts the assertion's message. */
async function checkBatchedMatmul(
  t: Pick<typeof tap, 'ok'>,
  rt: Runtime,
  [batch, m, k, n]: readonly [number, number, number, number],
  dtype: DType,
  alpha: number,
  seed: number,
  v: GemmVariant,
  label: string,
): Promise<void> {
  const a = inputs(batch * m * k, seed, dtype);
  const b = inputs(batch * k * n, seed + 1, dtype);
  const want = refMatmul(a, b, batch, m, k, n, { alpha });
  const got = await rt.read(rt.tidy(() => matmul(rt, rt.upload(a, [batch, m, k], dtype), rt.upload(b, [batch, k, n], dtype), { alpha, variant: v })));
  const err = maxRelError(got, want);
  t.ok(err <= KERNEL_TOLERANCE[dtype], `${label} [${variantName(v)}] err ${err.toExponential(2)}`);
}

// Lavapipe compiles each new pipeline for seconds (more on a busy machine): generous timeouts.
const SLOW = { timeout: 600_000 };

t.test('linear and matmul match a TS reference for every variant', SLOW, async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  t.comment(`subgroup matrices: ${rt.features.subgroupMatrix ? JSON.stringify(rt.features.subgroupMatrixConfigs) : 'no'}`);
  // [M, K, N]: odd shapes, several K tiles, a 16-aligned one the direct fragment kernels can take,
  // and one whose 64x64 and 128x64 tiles are all interior (the unchecked fast path of gemm-tc)
  const shapes: [number, number, number][] = [
    [37, 19, 45],
    [130, 77, 131],
    [64, 48, 32],
    [128, 64, 64],
  ];
  for (const dtype of dtypes) {
    for (const v of variants(rt, dtype)) {
      const name = v ? variantName(v) : 'default';
      // On lavapipe the extra variants take one shape and one layout (each pipeline costs seconds).
      const quick = v !== undefined && slowCompiler(rt);
      for (const [m, k, n] of quick ? shapes.slice(1, 2) : shapes) {
        const x = inputs(m * k, 1, dtype);
        const w = inputs(n * k, 2, dtype);
        if (runs(rt, v, 'nk', m, n, k, dtype)) await checkFullLinear(t, rt, [m, k, n], dtype, 'silu', 1, v);
        // (f16 matmul on lavapipe is covered by the batched test below)
        if (!quick && !(slowCompiler(rt) && dtype === 'f16') && runs(rt, v, 'kn', m, n, k, dtype)) {
          const want = refMatmul(x, w, 1, m, k, n, { alpha: 0.5 });
          const got = await rt.read(
            rt.tidy(() => matmul(rt, rt.upload(x, [m, k], dtype), rt.upload(w, [k, n], dtype), { alpha: 0.5, variant: v })),
          );
          const err = maxRelError(got, want);
          t.ok(err <= KERNEL_TOLERANCE[dtype], `matmul alpha ${dtype} ${m}x${k}x${n} [${name}] err ${err.toExponential(2)}`);
        }
      }
    }
  }
});

t.test('linear activations, leading dims and options', SLOW, async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) {
    // Pre-activations up to about ±8 reach the tails of erf/tanh/sigmoid.
    const [rows, k, n] = [15, 9, 21];
    const x = inputs(rows * k, 5, dtype, 3);
    const w = inputs(n * k, 6, dtype, 1);
    const bias = inputs(n, 7, dtype);
    for (const act of Object.keys(ACTIVATIONS) as Activation[]) {
      const want = refLinear(x, w, rows, k, n, bias, act);
      const got = await rt.read(
        rt.tidy(() => linear(rt, rt.upload(x, [3, 5, k], dtype), rt.upload(w, [n, k], dtype), { bias: rt.upload(bias, [n], dtype), activation: act })),
      );
      const err = maxRelError(got, want);
      t.ok(err <= KERNEL_TOLERANCE[dtype], `linear ${act} ${dtype} [3,5,${k}]x[${n},${k}] err ${err.toExponential(2)}`);
    }
    // no bias, into a given output
    const want = refLinear(x, w, rows, k, n);
    const got = await rt.read(
      rt.tidy(() => {
        const out = rt.empty([rows, n], dtype);
        const r = linear(rt, rt.upload(x, [rows, k], dtype), rt.upload(w, [n, k], dtype), { out });
        t.equal(r, out, 'linear returns the out tensor');
        return r;
      }),
    );
    t.ok(maxRelError(got, want) <= KERNEL_TOLERANCE[dtype], `linear no bias, out= ${dtype}`);
  }
});

t.test('batched matmul, transposeB and shared operands', SLOW, async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const [batch, m, k, n] = [3, 37, 19, 45];
  for (const dtype of dtypes) {
    const a = inputs(batch * m * k, 8, dtype);
    const b = inputs(batch * k * n, 9, dtype);
    const cases: { name: string; aShape: number[]; bShape: number[]; transposeB: boolean; aShared?: boolean; bShared?: boolean }[] = [
      { name: 'batched', aShape: [batch, m, k], bShape: [batch, k, n], transposeB: false },
      { name: 'batched transposeB', aShape: [batch, m, k], bShape: [batch, n, k], transposeB: true },
      { name: 'shared b', aShape: [batch, m, k], bShape: [k, n], transposeB: false, bShared: true },
      { name: 'shared a, transposeB', aShape: [m, k], bShape: [batch, n, k], transposeB: true, aShared: true },
    ];
    for (const c of cases) {
      const aData = c.aShared ? a.subarray(0, m * k) : a;
      const bData = c.bShared ? b.subarray(0, k * n) : b;
      const want = refMatmul(a, b, batch, m, k, n, { transposeB: c.transposeB, aShared: c.aShared, bShared: c.bShared, alpha: 1.5 });
      const got = await rt.read(
        rt.tidy(() => {
          const out = matmul(rt, rt.upload(aData, c.aShape, dtype), rt.upload(bData, c.bShape, dtype), { transposeB: c.transposeB, alpha: 1.5 });
          t.same(out.shape, [batch, m, n], `${c.name} shape`);
          return out;
        }),
      );
      const err = maxRelError(got, want);
      t.ok(err <= KERNEL_TOLERANCE[dtype], `matmul ${c.name} ${dtype} err ${err.toExponential(2)}`);
    }
  }
});

// The staged tensor-core core with emulated fragments: its bounds-checked and interior tile
// loads, both B layouts, launch bands and K slices run everywhere shader-f16 does, CI included.
t.test('the staged tensor-core core matches a TS reference with emulated fragments', SLOW, async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) return void t.comment('skipped: no shader-f16');
  const frag = { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 };
  const square: GemmVariant = { kind: 'tc', sgM: 2, sgN: 2, fm: 2, fn: 2, bk: 32, frag, emulated: true };
  const banded: GemmVariant = { kind: 'tc', sgM: 4, sgN: 2, fm: 1, fn: 2, bk: 16, frag, emulated: true, groupM: 2, splitK: 3 };
  // Results stored straight to memory: read back through the epilogue, or left for the split-K sum.
  const viaMemory: GemmVariant = { ...square, results: 'memory' };
  const splitViaMemory: GemmVariant = { ...banded, results: 'memory' };
  // Global loads two K steps ahead: odd and single tile counts, slices, results through memory.
  const ahead: GemmVariant = { ...square, ahead: 2 };
  // Odd shapes through the bounds checks (nk: B along K); a tile-aligned one through the interior path.
  await checkFullLinear(t, rt, [37, 70, 45], 'f16', 'gelu', 21, square);
  await checkFullLinear(t, rt, [128, 64, 128], 'f16', 'silu', 22, square);
  await checkFullLinear(t, rt, [128, 64, 128], 'f16', 'silu', 22, viaMemory);
  // Stream-K through the bias and activation: 4 tiles over 3 workers, a tail tile in two parts.
  await checkFullLinear(t, rt, [128, 64, 128], 'f16', 'silu', 22, { ...viaMemory, streamK: 3 });
  for (const [v, [batch, m, k, n]] of [
    [square, [1, 130, 77, 131]],
    [square, [2, 128, 64, 64]],
    [banded, [2, 70, 96, 132]],
    [viaMemory, [2, 64, 128, 128]],
    [splitViaMemory, [2, 128, 96, 64]],
    [ahead, [1, 130, 77, 131]],
    [ahead, [1, 40, 20, 36]],
    [{ ...banded, ahead: 2 }, [2, 70, 96, 132]],
    [{ ...viaMemory, ahead: 2 }, [2, 64, 128, 128]],
    [{ ...square, ahead: 3 }, [1, 130, 150, 131]],
    // Five subgroups down: threads that do not divide the B tile (80x64: 256 vec4s for 320
    // threads; 160x128 through memory: 512 for 640).
    [{ ...square, sgM: 5, sgN: 2, fm: 1, bk: 16 }, [1, 170, 77, 140]],
    [{ ...viaMemory, sgM: 5, sgN: 4, bk: 16, ahead: 2 }, [1, 160, 64, 128]],
    // Stream-K: 8 tiles over 5 workers leave a tail of 3 tiles whose 8 K steps each 5 workers
    // share (parts of two and three); with K one step, idle workers and tail tiles run whole;
    // 8 tiles over 4 workers, no tail; loads three ahead over parts shorter than the ring.
    [{ ...viaMemory, streamK: 5 }, [1, 256, 256, 128]],
    [{ ...viaMemory, streamK: 5 }, [1, 256, 32, 128]],
    [{ ...viaMemory, streamK: 4 }, [1, 256, 128, 128]],
    [{ ...viaMemory, ahead: 3, streamK: 4 }, [1, 128, 160, 192]],
  ] as const) {
    await checkBatchedMatmul(t, rt, [batch, m, k, n], 'f16', 0.5, 23, v, `matmul f16 ${batch}x${m}x${k}x${n}`);
  }
  rt.tidy(() => {
    t.throws(() => matmul(rt, rt.zeros([4, 4], 'f16'), rt.zeros([4, 4], 'f16'), { variant: { ...square, kind: 'tc-direct' } }), /only the staged core/);
    t.throws(() => matmul(rt, rt.zeros([64, 60], 'f16'), rt.zeros([60, 64], 'f16'), { variant: viaMemory }), /whole interior tiles/);
    t.throws(() => matmul(rt, rt.zeros([2, 64, 64], 'f16'), rt.zeros([2, 64, 64], 'f16'), { variant: { ...viaMemory, streamK: 3 } }), /stream-K runs one batch matrix/);
    t.throws(() => matmul(rt, rt.zeros([64, 64], 'f16'), rt.zeros([64, 64], 'f16'), { variant: { ...square, streamK: 3 } }), /stream-K needs the staged core with results through memory/);
  });
});

t.test('split-K GEMMs add up their K slices before the epilogue', SLOW, async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 && !slowCompiler(rt) ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) {
    const frag = matrixFragment(rt, dtype);
    const splits: GemmVariant[] = [
      { kind: 'tiled', tm: 4, tn: 4, bk: 16, splitK: 3 },
      ...(frag ? [{ kind: 'tc', sgM: 2, sgN: 2, fm: 2, fn: 2, bk: 16, frag, splitK: 3 } as const] : []),
    ];
    for (const v of splits) {
      // K = 48: three tiles of 16, one per slice; N a multiple of 4 (the partial sums' rows).
      const [m, k, n] = [37, 48, 44];
      await checkFullLinear(t, rt, [m, k, n], dtype, 'gelu', 11, v);
      await checkBatchedMatmul(t, rt, [2, m, k, n], dtype, 0.25, 15, v, `batched matmul alpha ${dtype}`);
    }
  }
  rt.tidy(() => {
    const x = rt.zeros([8, 48]);
    t.throws(() => linear(rt, x, rt.zeros([44, 48]), { variant: { kind: 'tiled', tm: 4, tn: 4, bk: 16, splitK: 2 } }), /split-K 2 must divide the 3 K tiles/);
    t.throws(() => linear(rt, x, rt.zeros([42, 48]), { variant: { kind: 'tiled', tm: 4, tn: 4, bk: 16, splitK: 3 } }), /N to be a multiple of 4/);
  });
});

t.test('bad shapes are refused with the shapes named', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => {
    t.throws(() => linear(rt, rt.zeros([4, 5]), rt.zeros([6, 7])), /linear: x \[4, 5\] needs weight \[N, 5\], got \[6, 7\]/);
    t.throws(() => matmul(rt, rt.zeros([4, 5]), rt.zeros([6, 7])), /matmul: cannot multiply a \[4, 5\] by b \[6, 7\]/);
    t.throws(() => linear(rt, rt.zeros([4, 5]), rt.zeros([6, 5]), { bias: rt.zeros([5]) }), /bias \[5\] must be \[6\]/);
    const x = rt.zeros([4, 5]);
    t.throws(() => linear(rt, x, rt.zeros([5, 5]), { out: x }), /shares a buffer/);
  });
});

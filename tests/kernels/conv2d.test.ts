import t from 'tap';
import type { Test } from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { conv2d, type ConvLowering } from '../../kernels/conv2d.js';
import { im2col, type ConvWindow, type Im2colPacket } from '../../kernels/im2col.js';
import { matrixFragment, variantName, type GemmVariant } from '../../kernels/gemm.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { DType } from '../../runtime/dtype.js';

type Padding = readonly [number, number, number, number];

interface ConvCase {
  readonly batch: number;
  readonly cin: number;
  readonly h: number;
  readonly w: number;
  readonly cout: number;
  readonly k: 1 | 3;
  readonly stride: 1 | 2;
  readonly padding: number | Padding;
  readonly bias: boolean;
  readonly residual: boolean;
}

function refConv(x: Float32Array, wt: Float32Array, c: ConvCase, bias?: Float32Array, residual?: Float32Array): { out: Float32Array; shape: number[] } {
  const [pt, pb, pl, pr] = typeof c.padding === 'number' ? [c.padding, c.padding, c.padding, c.padding] : c.padding;
  const ho = Math.floor((c.h + pt + pb - c.k) / c.stride) + 1;
  const wo = Math.floor((c.w + pl + pr - c.k) / c.stride) + 1;
  const out = new Float32Array(c.batch * c.cout * ho * wo);
  for (let b = 0; b < c.batch; b++) {
    for (let co = 0; co < c.cout; co++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let s = bias ? bias[co]! : 0;
          for (let ci = 0; ci < c.cin; ci++) {
            for (let ky = 0; ky < c.k; ky++) {
              for (let kx = 0; kx < c.k; kx++) {
                const iy = oy * c.stride + ky - pt;
                const ix = ox * c.stride + kx - pl;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                s += x[((b * c.cin + ci) * c.h + iy) * c.w + ix]! * wt[((co * c.cin + ci) * c.k + ky) * c.k + kx]!;
              }
            }
          }
          const at = ((b * c.cout + co) * ho + oy) * wo + ox;
          out[at] = s + (residual ? residual[at]! : 0);
        }
      }
    }
  }
  return { out, shape: [c.batch, c.cout, ho, wo] };
}

function inputs(n: number, seed: number, dtype: DType): Float32Array {
  const v = seededValues(n, seed);
  return dtype === 'f16' ? roundToF16(v) : v;
}

function slowCompiler(rt: Runtime): boolean {
  const a = rt.gpu.adapterInfo;
  return /llvmpipe|lavapipe|swiftshader/i.test(`${a.description} ${a.device} ${a.architecture}`);
}

/** Per-shape defaults always; on a GPU also the other tile shapes and the subgroup-matrix kernels. */
function variants(rt: Runtime, dtype: DType): (GemmVariant | undefined)[] {
  if (slowCompiler(rt)) return [undefined];
  const list: (GemmVariant | undefined)[] = [undefined, { kind: 'tiled', tm: 8, tn: 8, bk: 16 }, { kind: 'tiled', tm: 4, tn: 4, bk: 16 }];
  const frag = matrixFragment(rt, dtype);
  if (frag) {
    list.push(
      { kind: 'tc', sgM: 2, sgN: 4, fm: 4, fn: 2, bk: 32, frag },
      { kind: 'tc', sgM: 2, sgN: 2, fm: 2, fn: 2, bk: 32, frag },
      { kind: 'tc', sgM: 4, sgN: 2, fm: 2, fn: 2, bk: 32, frag },
    );
  }
  return list;
}

const CASES: ConvCase[] = [
  // odd sizes, 3x3 pad 1, bias + residual
  { batch: 2, cin: 3, h: 7, w: 5, cout: 5, k: 3, stride: 1, padding: 1, bias: true, residual: true },
  // stride 2 with the VAE downsampler's asymmetric (0, 1, 0, 1) padding
  { batch: 1, cin: 4, h: 9, w: 8, cout: 6, k: 3, stride: 2, padding: [0, 1, 0, 1], bias: true, residual: false },
  // stride 2 symmetric, no padding
  { batch: 2, cin: 3, h: 7, w: 5, cout: 5, k: 3, stride: 2, padding: 0, bias: false, residual: false },
  // 1x1 projection (skip connections), several K tiles
  { batch: 2, cin: 37, h: 5, w: 3, cout: 19, k: 1, stride: 1, padding: 0, bias: true, residual: true },
  // output rows a multiple of 4 wide: column groups of four within one row, at the image edges too
  { batch: 2, cin: 5, h: 5, w: 8, cout: 7, k: 3, stride: 1, padding: 1, bias: true, residual: true },
  { batch: 3, cin: 9, h: 3, w: 4, cout: 6, k: 1, stride: 1, padding: 0, bias: false, residual: false },
  // enough channels for several K tiles and M tiles through the 3x3 gather
  { batch: 1, cin: 20, h: 6, w: 6, cout: 70, k: 3, stride: 1, padding: 1, bias: true, residual: false },
  // rows 12 wide (three vector loads a row) and several K tiles
  { batch: 2, cin: 11, h: 5, w: 12, cout: 9, k: 3, stride: 1, padding: 1, bias: true, residual: true },
];

/** Every lowering that can run a case. */
function lowerings(c: ConvCase): ConvLowering[] {
  const pointwise = c.k === 1 && c.stride === 1 && c.padding === 0;
  return pointwise ? ['pointwise', 'im2col', 'gather'] : ['im2col', 'gather'];
}

async function checkConv(t: Test, rt: Runtime, c: ConvCase, dtype: DType, v: GemmVariant | undefined, lowering: ConvLowering): Promise<void> {
  const x = inputs(c.batch * c.cin * c.h * c.w, 1, dtype);
  const wt = inputs(c.cout * c.cin * c.k * c.k, 2, dtype);
  const bias = c.bias ? inputs(c.cout, 3, dtype) : undefined;
  const probe = refConv(x, wt, c);
  const residual = c.residual ? inputs(probe.out.length, 4, dtype) : undefined;
  const want = refConv(x, wt, c, bias, residual);
  const got = await rt.read(
    rt.tidy(() => {
      const out = conv2d(rt, rt.upload(x, [c.batch, c.cin, c.h, c.w], dtype), rt.upload(wt, [c.cout, c.cin, c.k, c.k], dtype), {
        stride: c.stride,
        padding: c.padding,
        bias: bias && rt.upload(bias, [c.cout], dtype),
        residual: residual && rt.upload(residual, want.shape, dtype),
        variant: v,
        lowering,
      });
      t.same(out.shape, want.shape, 'output shape');
      return out;
    }),
  );
  const err = maxRelError(got, want.out);
  const name = `${c.batch}x${c.cin}x${c.h}x${c.w} → ${c.cout} k${c.k} s${c.stride} p${JSON.stringify(c.padding)}${c.bias ? ' +bias' : ''}${c.residual ? ' +residual' : ''}`;
  t.ok(err <= KERNEL_TOLERANCE[dtype], `conv2d ${dtype} ${name} ${lowering} [${v ? variantName(v) : 'default'}] err ${err.toExponential(2)}`);
}

// Lavapipe compiles each new pipeline for seconds (more on a busy machine): generous timeouts.
t.test('conv2d matches a TS reference', { timeout: 600_000 }, async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  for (const dtype of dtypes) {
    for (const v of variants(rt, dtype)) {
      for (const [c, lowering] of CASES.flatMap((c) => lowerings(c).map((l) => [c, l] as const))) await checkConv(t, rt, c, dtype, v, lowering);
    }
  }
});

// The tensor-core core's conv paths (the gathered B tiles and the im2col GEMM) with emulated
// fragments: the same code as on a GPU but for the fragment operations, so CI checks it too.
t.test('conv2d through the staged tensor-core core with emulated fragments', { timeout: 600_000 }, async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) return void t.comment('skipped: no shader-f16');
  const frag = { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 };
  const v: GemmVariant = { kind: 'tc', sgM: 2, sgN: 2, fm: 2, fn: 2, bk: 32, frag, emulated: true };
  for (const [c, lowering] of [
    [CASES[0]!, 'im2col'],
    [CASES[0]!, 'gather'],
    [CASES[1]!, 'gather'],
    [CASES[6]!, 'gather'],
    [CASES[7]!, 'im2col'],
  ] as const) {
    await checkConv(t, rt, c, 'f16', v, lowering);
  }
});

/** The im2col matrices of x [batch, cin, h, w] for a 3x3 window, as the kernel lays them out. */
function refIm2col(x: Float32Array, batch: number, window: ConvWindow): number[] {
  const { cin, h, w, ho, wo, stride, padTop, padLeft } = window;
  const want: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let tap = 0; tap < 9; tap++) {
        for (let p = 0; p < ho * wo; p++) {
          const iy = Math.floor(p / wo) * stride + Math.floor(tap / 3) - padTop;
          const ix = (p % wo) * stride + (tap % 3) - padLeft;
          want.push(iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((b * cin + ci) * h + iy) * w + ix]! : 0);
        }
      }
    }
  }
  return want;
}

t.test('im2col lays out each tap as a row of output pixels, one, four or eight (f16) per store', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const cases: { batch: number; h: number; w: number; window: ConvWindow; packets: Im2colPacket[] }[] = [
    // 3x3, stride 2, padding (top 1, left 0): ho = (5 + 1 + 1 - 3) / 2 + 1 = 3, wo = (4 + 0 + 1 - 3) / 2 + 1 = 2
    { batch: 2, h: 5, w: 4, window: { cin: 3, h: 5, w: 4, ho: 3, wo: 2, kernel: 3, stride: 2, padTop: 1, padLeft: 0 }, packets: [1] },
    // 36 pixels in rows of 6: packets of four cross output rows (and the padding at both ends)
    { batch: 2, h: 6, w: 6, window: { cin: 3, h: 6, w: 6, ho: 6, wo: 6, kernel: 3, stride: 1, padTop: 1, padLeft: 1 }, packets: [1, 4] },
    // stride 2 with the VAE's (0, 1, 0, 1) padding: 4x2 outputs, two rows per packet
    { batch: 1, h: 8, w: 4, window: { cin: 2, h: 8, w: 4, ho: 4, wo: 2, kernel: 3, stride: 2, padTop: 0, padLeft: 0 }, packets: [1, 4, 8] },
    // more than one workgroup of packets along a row: 32x40 = 1280 pixels
    { batch: 1, h: 32, w: 40, window: { cin: 1, h: 32, w: 40, ho: 32, wo: 40, kernel: 3, stride: 1, padTop: 1, padLeft: 1 }, packets: [1, 4, 8] },
  ];
  for (const dtype of dtypes) {
    for (const c of cases) {
      const x = inputs(c.batch * c.window.cin * c.h * c.w, 5, dtype);
      const want = refIm2col(x, c.batch, c.window);
      // Eight per store packs f16 pairs into u32s.
      for (const packet of [undefined, ...c.packets.filter((per) => per !== 8 || dtype === 'f16')]) {
        const got = await rt.read(rt.tidy(() => im2col(rt, rt.upload(x, [c.batch, c.window.cin, c.h, c.w], dtype), c.window, packet)));
        t.same(Array.from(got), want, `${dtype} ${c.batch}x${c.window.cin}x${c.h}x${c.w} s${c.window.stride} → ${c.window.ho}x${c.window.wo}, ${packet ?? 'default'} per store`);
      }
    }
  }
  rt.tidy(() => {
    const window: ConvWindow = { cin: 1, h: 5, w: 3, ho: 5, wo: 3, kernel: 3, stride: 1, padTop: 1, padLeft: 1 };
    t.throws(() => im2col(rt, rt.zeros([1, 1, 5, 3]), window, 4), /im2col: 4 pixels per store need Ho·Wo \(15\) to be a multiple of 4/);
    const eight: ConvWindow = { ...window, h: 4, w: 2, ho: 4, wo: 2 };
    t.throws(() => im2col(rt, rt.zeros([1, 1, 4, 2]), eight, 8), /im2col: 8 pixels per store pack f16 pairs, not f32/);
  });
});

t.test('conv2d refuses bad shapes with the shapes named', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => {
    t.throws(() => conv2d(rt, rt.zeros([1, 3, 4, 4]), rt.zeros([2, 4, 3, 3])), /conv2d: weight \[2, 4, 3, 3\] must be \[Cout, 3, k, k\]/);
    t.throws(() => conv2d(rt, rt.zeros([1, 3, 4, 4]), rt.zeros([2, 3, 5, 5])), /k 1 or 3/);
    t.throws(() => conv2d(rt, rt.zeros([3, 4, 4]), rt.zeros([2, 3, 3, 3])), /must be \[B, Cin, H, W\]/);
    t.throws(() => conv2d(rt, rt.zeros([1, 3, 4, 4]), rt.zeros([2, 3, 3, 3]), { padding: 1, bias: rt.zeros([3]) }), /bias \[3\] must be \[2\]/);
    t.throws(() => conv2d(rt, rt.zeros([1, 3, 4, 4]), rt.zeros([2, 3, 3, 3]), { padding: 1, lowering: 'pointwise' }), /pointwise lowering needs a 1x1 kernel/);
  });
});

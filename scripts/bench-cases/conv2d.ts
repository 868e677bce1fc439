import { randomTensor, type BenchCase } from './case.js';
import { MATRIX_SWEEP, matrixPick, type SweepEntry, type VariantPick } from './matmul.js';
import { conv2d, conv2dVariant, type ConvLowering } from '../../kernels/conv2d.js';
import { im2col, type Im2colPacket } from '../../kernels/im2col.js';
import type { DType } from '../../runtime/dtype.js';

/** conv2d 3x3 (pad 1) or 1x1 over x [batch, cin, size, size] with bias, as the U-Net's resnets run it. */
export function conv2dCase(
  batch: number,
  cin: number,
  cout: number,
  size: number,
  kernel: 1 | 3,
  dtype: DType,
  pick?: VariantPick,
  lowering?: ConvLowering,
): BenchCase {
  const k = cin * kernel * kernel;
  const n = batch * size * size;
  return {
    name: `conv${kernel}x${kernel} ${cin}→${cout} ${size}x${size} b${batch}`,
    kernel: 'conv2d',
    dtype,
    flops: 2 * cout * n * k,
    bytes: (batch * cin * size * size + cout * k + cout * n + cout) * (dtype === 'f32' ? 4 : 2),
    setup(rt) {
      const x = randomTensor(rt, [batch, cin, size, size], dtype, 1);
      const w = randomTensor(rt, [cout, cin, kernel, kernel], dtype, 2);
      const bias = randomTensor(rt, [cout], dtype, 3);
      const out = rt.empty([batch, cout, size, size], dtype);
      const padding = kernel === 3 ? 1 : 0;
      const options = { padding, bias, out, variant: pick?.(rt), lowering };
      return {
        run: () => void conv2d(rt, x, w, options),
        variant: conv2dVariant(rt, x, w, options),
        dispose: () => [x, w, bias, out].forEach((t) => t.dispose()),
      };
    },
  };
}

/**
 * The im2col pass of a 3x3 pad-1 conv alone, one, four or eight pixels per store: how much of
 * the lowered conv's time it takes.
 */
function im2colCase(batch: number, cin: number, size: number, dtype: DType, packet: Im2colPacket): BenchCase {
  const elements = batch * cin * 9 * size * size;
  return {
    name: `im2col3x3 ${cin} ${size}x${size} b${batch} x${packet}`,
    kernel: 'im2col',
    dtype,
    flops: 0,
    bytes: (batch * cin * size * size + elements) * (dtype === 'f32' ? 4 : 2),
    setup(rt) {
      const x = randomTensor(rt, [batch, cin, size, size], dtype, 1);
      const window = { cin, h: size, w: size, ho: size, wo: size, kernel: 3, stride: 1, padTop: 1, padLeft: 1 } as const;
      return { run: () => im2col(rt, x, window, packet).dispose(), dispose: () => x.dispose() };
    },
  };
}

// The U-Net's first-level resnet conv (the bar) and its deepest one.
export const conv2dCases: BenchCase[] = (['f32', 'f16'] as DType[]).flatMap((dtype) => [
  conv2dCase(2, 320, 320, 64, 3, dtype),
  conv2dCase(2, 1280, 1280, 8, 3, dtype),
]);

// `--filter conv-sweep`: the bar conv and the deepest one under each tile shape (im2col), the
// gather's best tiles, larger tiles with K splits, and the bar conv's im2col pass alone.
const SPLIT_TILES: readonly SweepEntry[] = [
  ['tc', 4, 4, 2, 2, 16, { splitK: 2 }],
  ['tc', 4, 4, 2, 2, 16, { splitK: 3 }],
  ['tc', 4, 4, 2, 2, 16, { splitK: 5 }],
  ['tc', 2, 4, 2, 2, 32, { splitK: 2 }],
  ['tc', 4, 2, 2, 2, 32, { splitK: 2 }],
  ['tc', 2, 4, 2, 2, 32, { splitK: 2, results: 'memory' }],
  ['tc', 2, 2, 2, 2, 32, { splitK: 2, results: 'memory' }],
  // 64x64 tiles give the bar conv 640 workgroups, about five per SM: more slices, more in flight
  ['tc', 2, 2, 2, 2, 32, { splitK: 2 }],
  ['tc', 2, 2, 2, 2, 32, { splitK: 3 }],
];

/** A square channels→channels 3x3 conv (batch 2, f16) under each swept tile shape, as one sweep's rows. */
function sweepRows(kernel: string, channels: number, size: number, entries: readonly SweepEntry[], lowering: ConvLowering = 'im2col'): BenchCase[] {
  return entries.map(([kind, ...t]) => ({ ...conv2dCase(2, channels, channels, size, 3, 'f16', matrixPick(kind, ...t), lowering), kernel }));
}

export const conv2dSweepCases: BenchCase[] = [
  ...[
    [320, 64],
    [1280, 8],
  ].flatMap(([channels, size]) => sweepRows('conv-sweep', channels!, size!, MATRIX_SWEEP)),
  ...sweepRows('conv-sweep', 320, 64, MATRIX_SWEEP.filter(([, sgM]) => sgM === 4), 'gather'),
  ...[
    [320, 64],
    [640, 32],
  ].flatMap(([channels, size]) => sweepRows('conv-sweep', channels!, size!, SPLIT_TILES)),
  ...[4, 8, 12].map((splitK) => ({ ...conv2dCase(2, 1280, 1280, 8, 3, 'f16', matrixPick('tc', 2, 2, 2, 2, 32, { splitK })), kernel: 'conv-sweep' })),
  ...[
    [640, 32],
    [640, 16],
    [1280, 16],
  ].map(([channels, size]) => ({ ...conv2dCase(2, channels!, channels!, size!, 3, 'f16'), kernel: 'conv-sweep' })),
  ...([1, 4, 8] as const).map((packet) => ({ ...im2colCase(2, 320, 64, 'f16', packet), kernel: 'conv-sweep' })),
];

// `--filter ahead-sweep` (with matmul.ts's rows): the bar conv's best im2col tiles with global
// loads one, two or three K steps ahead of the multiplies.
export const conv2dAheadCases: BenchCase[] = ([1, 2, 3] as const).flatMap((ahead) =>
  sweepRows('ahead-sweep', 320, 64, [
    ['tc', 2, 4, 2, 2, 32, { splitK: 2, ahead }],
    ['tc', 2, 4, 2, 2, 16, { splitK: 2, ahead }],
    ['tc', 2, 2, 2, 2, 32, { splitK: 2, results: 'memory', ahead }],
  ]),
);

// `--filter m160-sweep`: convs on 160-row tiles (five subgroups down), which cover the U-Net's
// 320, 640 and 1280 output channels where 128-row tiles waste a sixth: the bar conv with loads two
// or three ahead and split or whole, the other levels' convs split towards one workgroup per SM,
// each beside the 64x128 tiles they ran before; and the bar conv's im2col pass, four or eight
// pixels per store.
const TALL_160 = ['tc', 5, 4, 2, 2, 32] as const;
export const conv2dM160Cases: BenchCase[] = [
  ...sweepRows('m160-sweep', 320, 64, [
    [...TALL_160, { results: 'memory', ahead: 2 }],
    [...TALL_160, { results: 'memory', ahead: 3 }],
    [...TALL_160, { results: 'memory', splitK: 2, ahead: 3 }],
    ['tc', 2, 4, 2, 2, 16, { splitK: 2, ahead: 2 }],
  ]),
  ...sweepRows('m160-sweep', 320, 128, [
    [...TALL_160, { results: 'memory', ahead: 2 }],
    ['tc', 2, 4, 2, 2, 16, { ahead: 2 }],
  ]),
  ...sweepRows('m160-sweep', 640, 32, [
    [...TALL_160, { results: 'memory', ahead: 2 }],
    [...TALL_160, { results: 'memory', splitK: 2, ahead: 2 }],
    ['tc', 2, 4, 2, 2, 16, { splitK: 2, ahead: 2 }],
  ]),
  ...sweepRows('m160-sweep', 1280, 16, [
    [...TALL_160, { results: 'memory', splitK: 2, ahead: 2 }],
    [...TALL_160, { results: 'memory', splitK: 4, ahead: 2 }],
    ['tc', 2, 4, 2, 2, 16, { splitK: 4, ahead: 2 }],
  ]),
  ...([4, 8] as const).map((packet) => ({ ...im2colCase(2, 320, 64, 'f16', packet), kernel: 'm160-sweep' })),
];

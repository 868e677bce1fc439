import { randomTensor, type BenchCase } from './case.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { DType } from '../../runtime/dtype.js';
import { groupNorm, layerNorm } from '../../kernels/norm.js';
import { softmax } from '../../kernels/softmax.js';
import { geglu } from '../../kernels/geglu.js';
import { upsampleNearest2x } from '../../kernels/resample.js';
import { concatChannels } from '../../kernels/concat.js';
import { nchwToTokens } from '../../kernels/layout.js';
import { teamReduction } from '../../kernels/team.js';

const count = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
const bytesOf = (dtype: DType) => (dtype === 'f32' ? 4 : 2);

interface Spec {
  readonly name: string;
  readonly kernel: string;
  /** Elements read plus elements written once each (the minimal traffic), per call. */
  readonly elementsMoved: number;
  /** Whether the kernel reduces through the team reduction (its variant goes in the report). */
  readonly reduces?: boolean;
  /** Allocates the inputs and output; returns the call and everything to free. */
  make(rt: Runtime, dtype: DType): { run(): void; tensors: Tensor[] };
}

// The memory-bound kernels of SD 1.5's U-Net at 512×512 (latents 64×64), batch 2 for CFG.
const specs: Spec[] = [
  {
    name: 'groupNorm+silu 2x320x64x64 G32',
    kernel: 'norm',
    elementsMoved: 2 * count([2, 320, 64, 64]),
    reduces: true,
    make(rt, dtype) {
      const [x, g, b, out] = [randomTensor(rt, [2, 320, 64, 64], dtype, 1), randomTensor(rt, [320], dtype, 2), randomTensor(rt, [320], dtype, 3), rt.empty([2, 320, 64, 64], dtype)];
      return { run: () => void groupNorm(rt, x, g, b, { groups: 32, eps: 1e-5, silu: true, out }), tensors: [x, g, b, out] };
    },
  },
  {
    name: 'layerNorm 2x4096x320',
    kernel: 'norm',
    elementsMoved: 2 * count([2, 4096, 320]),
    reduces: true,
    make(rt, dtype) {
      const [x, g, b, out] = [randomTensor(rt, [2, 4096, 320], dtype, 1), randomTensor(rt, [320], dtype, 2), randomTensor(rt, [320], dtype, 3), rt.empty([2, 4096, 320], dtype)];
      return { run: () => void layerNorm(rt, x, g, b, { eps: 1e-5, out }), tensors: [x, g, b, out] };
    },
  },
  {
    name: 'softmax 16x4096x77',
    kernel: 'softmax',
    elementsMoved: 2 * count([16, 4096, 77]),
    reduces: true,
    make(rt, dtype) {
      const [x, out] = [randomTensor(rt, [16, 4096, 77], dtype, 1), rt.empty([16, 4096, 77], dtype)];
      return { run: () => void softmax(rt, x, { scale: 0.125, out }), tensors: [x, out] };
    },
  },
  {
    name: 'geglu 2x4096x2560',
    kernel: 'geglu',
    elementsMoved: count([2, 4096, 2560]) * 1.5,
    make(rt, dtype) {
      const [x, out] = [randomTensor(rt, [2, 4096, 2560], dtype, 1), rt.empty([2, 4096, 1280], dtype)];
      return { run: () => void geglu(rt, x, out), tensors: [x, out] };
    },
  },
  {
    name: 'upsampleNearest2x 2x1280x16x16',
    kernel: 'resample',
    elementsMoved: count([2, 1280, 16, 16]) * 5,
    make(rt, dtype) {
      const [x, out] = [randomTensor(rt, [2, 1280, 16, 16], dtype, 1), rt.empty([2, 1280, 32, 32], dtype)];
      return { run: () => void upsampleNearest2x(rt, x, out), tensors: [x, out] };
    },
  },
  {
    name: 'concatChannels 2x(640+320)x32x32',
    kernel: 'concat',
    elementsMoved: 2 * count([2, 960, 32, 32]),
    make(rt, dtype) {
      const [a, b, out] = [randomTensor(rt, [2, 640, 32, 32], dtype, 1), randomTensor(rt, [2, 320, 32, 32], dtype, 2), rt.empty([2, 960, 32, 32], dtype)];
      return { run: () => void concatChannels(rt, a, b, out), tensors: [a, b, out] };
    },
  },
  {
    name: 'nchwToTokens 2x320x64x64',
    kernel: 'layout',
    elementsMoved: 2 * count([2, 320, 64, 64]),
    make(rt, dtype) {
      const [x, out] = [randomTensor(rt, [2, 320, 64, 64], dtype, 1), rt.empty([2, 4096, 320], dtype)];
      return { run: () => void nchwToTokens(rt, x, out), tensors: [x, out] };
    },
  },
];

export const elementwiseCases: BenchCase[] = specs.flatMap((spec) =>
  (['f32', 'f16'] as DType[]).map(
    (dtype): BenchCase => ({
      name: spec.name,
      kernel: spec.kernel,
      dtype,
      flops: 0,
      bytes: spec.elementsMoved * bytesOf(dtype),
      setup(rt) {
        const { run, tensors } = spec.make(rt, dtype);
        const variant = spec.reduces ? `${teamReduction(rt).variant} team ${teamReduction(rt).rowTeam}` : undefined;
        return { run, variant, dispose: () => tensors.forEach((t) => t.dispose()) };
      },
    }),
  ),
);

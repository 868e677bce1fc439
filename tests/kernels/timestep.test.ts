import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { timestepEmbedding, timestepFrequencies, type TimestepEmbeddingOptions } from '../../kernels/timestep.js';
import type { DType } from '../../runtime/dtype.js';

/**
 * diffusers get_timestep_embedding as PyTorch computes it in f32: every op rounded to f32 (the
 * frequencies, the product t·freq), then sin / cos of that f32 argument (here in double).
 */
function referenceEmbedding(timesteps: number[], o: TimestepEmbeddingOptions): Float64Array {
  const half = Math.floor(o.dim / 2);
  const freqs = timestepFrequencies(half, o.downscaleFreqShift, o.maxPeriod);
  const out = new Float64Array(timesteps.length * o.dim);
  timesteps.forEach((ts, b) => {
    for (let j = 0; j < half; j++) {
      const arg = Math.fround(Math.fround(ts) * freqs[j]!);
      const [first, second] = o.flipSinToCos ? [Math.cos(arg), Math.sin(arg)] : [Math.sin(arg), Math.cos(arg)];
      out[b * o.dim + j] = first;
      out[b * o.dim + half + j] = second;
    }
  });
  return out;
}

t.test('frequencies round like PyTorch f32 ops', async (t) => {
  // SD (dim 320, shift 0): exp(f32(f32(−ln 10000)·i) / 160) rounded to f32
  const f = timestepFrequencies(160, 0);
  t.equal(f[0], 1);
  t.equal(f[1], Math.fround(Math.exp(Math.fround(Math.fround(-9.210340371976184) / 160))));
});

t.test('timestep embedding matches PyTorch f32 arithmetic', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const timesteps = [0, 1, 261, 500, 999, 981];
  const configs: TimestepEmbeddingOptions[] = [
    { dim: 320, flipSinToCos: true, downscaleFreqShift: 0 }, // SD 1.5's U-Net
    { dim: 7, flipSinToCos: false, downscaleFreqShift: 1 }, // odd dim: zero pad
    { dim: 32, flipSinToCos: false, downscaleFreqShift: 1, maxPeriod: 100 },
  ];
  for (const dtype of dtypes) {
    for (const o of configs) {
      let want = referenceEmbedding(timesteps, o);
      if (dtype === 'f16') want = Float64Array.from(roundToF16(want));
      const out = rt.tidy(() => rt.keep(timestepEmbedding(rt, rt.upload(timesteps, [timesteps.length]), o, dtype)));
      t.same(out.shape, [timesteps.length, o.dim], 'output shape');
      t.equal(out.dtype, dtype, 'output dtype');
      const got = await rt.read(out);
      out.dispose();
      let abs = 0;
      for (let i = 0; i < got.length; i++) abs = Math.max(abs, Math.abs(got[i]! - want[i]!));
      if (dtype === 'f32') t.ok(abs <= 1e-6, `${JSON.stringify(o)} f32: max abs error ${abs.toExponential(2)}`);
      else t.ok(maxRelError(got, want) <= KERNEL_TOLERANCE.f16, `${JSON.stringify(o)} f16: max abs error ${abs.toExponential(2)}`);
    }
  }
});

t.test('timestep embedding rejects non-f32 or non-1-D timesteps', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => t.throws(() => timestepEmbedding(rt, rt.zeros([2, 1]), { dim: 8, flipSinToCos: true, downscaleFreqShift: 0 }), /must be \[B\] f32/));
});

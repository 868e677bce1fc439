import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { Runtime } from '../../runtime/runtime.js';
import { groupNorm, layerNorm } from '../../kernels/norm.js';
import type { DType } from '../../runtime/dtype.js';

function referenceGroupNorm(x: Float32Array, shape: number[], groups: number, gamma: Float32Array, beta: Float32Array, eps: number, silu: boolean): Float64Array {
  const [batch, channels] = shape as [number, number];
  const spatial = x.length / (batch * channels);
  const block = (channels / groups) * spatial;
  const out = new Float64Array(x.length);
  for (let g = 0; g < batch * groups; g++) {
    const base = g * block;
    let mean = 0;
    for (let i = 0; i < block; i++) mean += x[base + i]!;
    mean /= block;
    let variance = 0;
    for (let i = 0; i < block; i++) variance += (x[base + i]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(variance / block + eps);
    for (let i = 0; i < block; i++) {
      const c = ((g % groups) * block + i - ((g % groups) * block + i) % spatial) / spatial;
      const y = (x[base + i]! - mean) * rstd * gamma[c]! + beta[c]!;
      out[base + i] = silu ? y / (1 + Math.exp(-y)) : y;
    }
  }
  return out;
}

function referenceLayerNorm(x: Float32Array, cols: number, gamma: Float32Array, beta: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    let mean = 0;
    for (let i = 0; i < cols; i++) mean += x[base + i]!;
    mean /= cols;
    let variance = 0;
    for (let i = 0; i < cols; i++) variance += (x[base + i]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(variance / cols + eps);
    for (let i = 0; i < cols; i++) out[base + i] = (x[base + i]! - mean) * rstd * gamma[i]! + beta[i]!;
  }
  return out;
}

/** Records one assertion (t.ok of the calling test). */
type Check = (ok: boolean, message: string) => void;

interface Case {
  shape: number[];
  groups: number;
  silu: boolean;
  /** added to every input: a large mean must not cost precision */
  offset: number;
  /** too big to also run in f16 cheaply */
  f32Only?: boolean;
}

const groupCases: Case[] = [
  { shape: [2, 6, 5, 7], groups: 3, silu: false, offset: 0 }, // odd spatial: scalar lanes
  { shape: [2, 6, 5, 7], groups: 3, silu: true, offset: 100 },
  { shape: [1, 8, 4, 4], groups: 2, silu: true, offset: 0 }, // vec4 lanes
  { shape: [3, 4], groups: 2, silu: false, offset: 0 }, // no spatial dims
  { shape: [1, 6, 3, 3, 3], groups: 3, silu: false, offset: 0 }, // 3-D spatial
  { shape: [1, 4, 48, 50], groups: 2, silu: false, offset: 100 }, // several chunks per group
  { shape: [1, 2, 260, 260], groups: 1, silu: true, offset: 100, f32Only: true }, // several rounds per chunk
];

async function checkGroupNorm(check: Check, rt: Runtime, label: string, dtypes: DType[]): Promise<void> {
  for (const dtype of dtypes) {
    for (const c of groupCases) {
      if (c.f32Only && dtype !== 'f32') continue;
      const n = c.shape.reduce((p, d) => p * d, 1);
      const channels = c.shape[1]!;
      let x = seededValues(n, 11, c.offset - 1, c.offset + 1);
      let gamma = seededValues(channels, 12, 0.5, 1.5);
      let beta = seededValues(channels, 13);
      if (dtype === 'f16') [x, gamma, beta] = [roundToF16(x), roundToF16(gamma), roundToF16(beta)];
      const want = referenceGroupNorm(x, c.shape, c.groups, gamma, beta, 1e-5, c.silu);
      const got = await rt.read(
        rt.tidy(() =>
          groupNorm(rt, rt.upload(x, c.shape, dtype), rt.upload(gamma, [channels], dtype), rt.upload(beta, [channels], dtype), {
            groups: c.groups,
            eps: 1e-5,
            silu: c.silu,
          }),
        ),
      );
      const err = maxRelError(got, want);
      check(err <= KERNEL_TOLERANCE[dtype], `${label} groupNorm ${dtype} [${c.shape}] G=${c.groups}${c.silu ? ' silu' : ''} offset ${c.offset}: max rel error ${err.toExponential(2)}`);
    }
  }
}

async function checkLayerNorm(check: Check, rt: Runtime, label: string, dtypes: DType[]): Promise<void> {
  // rows of 37 (scalar lanes), 320 (vec4, a team per row), 16388 (too long to cache: re-read)
  const shapes = [[3, 5, 37], [2, 7, 320], [2, 16388]];
  for (const dtype of dtypes) {
    for (const shape of shapes) {
      for (const offset of [0, 100]) {
        const n = shape.reduce((p, d) => p * d, 1);
        const cols = shape[shape.length - 1]!;
        let x = seededValues(n, 21, offset - 1, offset + 1);
        let gamma = seededValues(cols, 22, 0.5, 1.5);
        let beta = seededValues(cols, 23);
        if (dtype === 'f16') [x, gamma, beta] = [roundToF16(x), roundToF16(gamma), roundToF16(beta)];
        const want = referenceLayerNorm(x, cols, gamma, beta, 1e-5);
        const got = await rt.read(
          rt.tidy(() => layerNorm(rt, rt.upload(x, shape, dtype), rt.upload(gamma, [cols], dtype), rt.upload(beta, [cols], dtype), { eps: 1e-5 })),
        );
        const err = maxRelError(got, want);
        check(err <= KERNEL_TOLERANCE[dtype], `${label} layerNorm ${dtype} [${shape}] offset ${offset}: max rel error ${err.toExponential(2)}`);
      }
    }
  }
}

t.test('group norm matches a TS reference', async (t) => {
  const rt = await testRuntime();
  await checkGroupNorm((ok, m) => t.ok(ok, m), rt, rt.features.subgroups ? 'subgroups' : 'plain', rt.features.f16 ? ['f32', 'f16'] : ['f32']);
});

t.test('layer norm matches a TS reference', async (t) => {
  const rt = await testRuntime();
  await checkLayerNorm((ok, m) => t.ok(ok, m), rt, rt.features.subgroups ? 'subgroups' : 'plain', rt.features.f16 ? ['f32', 'f16'] : ['f32']);
});

t.test('norms on the portable path (no subgroups, no f16)', async (t) => {
  const rt = await Runtime.create({ plain: true });
  await checkGroupNorm((ok, m) => t.ok(ok, m), rt, 'plain', ['f32']);
  await checkLayerNorm((ok, m) => t.ok(ok, m), rt, 'plain', ['f32']);
  rt.destroy();
});

t.test('f16 activations with f32 gamma/beta', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('no shader-f16: skipped');
    return;
  }
  const shape = [2, 6, 4, 4];
  const x = roundToF16(seededValues(192, 31, -2, 2));
  const gamma = seededValues(6, 32, 0.5, 1.5);
  const beta = seededValues(6, 33);
  const got = await rt.read(rt.tidy(() => groupNorm(rt, rt.upload(x, shape, 'f16'), rt.upload(gamma, [6]), rt.upload(beta, [6]), { groups: 2, eps: 1e-6 })));
  t.ok(maxRelError(got, referenceGroupNorm(x, shape, 2, gamma, beta, 1e-6, false)) <= KERNEL_TOLERANCE.f16, 'groupNorm');
  const got2 = await rt.read(rt.tidy(() => layerNorm(rt, rt.upload(x, [32, 6], 'f16'), rt.upload(gamma, [6]), rt.upload(beta, [6]), { eps: 1e-6 })));
  t.ok(maxRelError(got2, referenceLayerNorm(x, 6, gamma, beta, 1e-6)) <= KERNEL_TOLERANCE.f16, 'layerNorm');
});

t.test('norms reject bad shapes', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => {
    const x = rt.zeros([1, 6, 2, 2]);
    t.throws(() => groupNorm(rt, x, rt.zeros([6]), rt.zeros([6]), { groups: 4, eps: 1e-5 }), /6 channels .* do not split into 4 groups/);
    t.throws(() => layerNorm(rt, x, rt.zeros([3]), rt.zeros([3]), { eps: 1e-5 }), /gamma \[3\] and beta \[3\] must have 2 values/);
  });
});

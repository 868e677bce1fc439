import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { unetParameterShapes } from '../../unet/parameters.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { fixture, loadTinyUNet, openUNetGolden, tinyUNetConfig, UNET_TOLERANCE } from './fixture.js';

const INTERMEDIATES = [
  'time_embedding',
  'conv_in',
  'down_blocks.0',
  'down_blocks.1',
  'down_blocks.2',
  'down_blocks.3',
  'mid_block',
  'up_blocks.0',
  'up_blocks.1',
  'up_blocks.2',
  'up_blocks.3',
];

// One U-Net evaluation takes seconds on lavapipe, and the first compiles every pipeline.
t.setTimeout(900_000);

t.test('parameter names and shapes are those of the diffusers checkpoint', async (t) => {
  const file = await SafetensorsFile.open(`${fixture}/model/unet/diffusion_pytorch_model.safetensors`);
  const shapes = unetParameterShapes(tinyUNetConfig());
  const stored = new Map([...file.entries.values()].map((e) => [e.name, [...e.shape]]));
  t.same([...shapes.keys()].sort(), [...stored.keys()].sort(), 'same names');
  const misshapen = [...shapes].filter(([name, shape]) => JSON.stringify(shape) !== JSON.stringify(stored.get(name)));
  t.same(misshapen, [], `all ${shapes.size} shapes agree`);
  await file.close();
});

t.test('U-Net matches diffusers at t = 981, 500, 1 and on every intermediate', { timeout: 600_000 }, async (t) => {
  const rt = await testRuntime();
  const golden = await openUNetGolden(rt);
  for (const dtype of (rt.features.f16 ? ['f32', 'f16'] : ['f32']) as FloatDType[]) {
    const unet = await loadTinyUNet(rt, dtype);
    const bar = UNET_TOLERANCE[dtype];
    const captured = new Map<string, Tensor>();
    const copyOut = (name: string, x: Tensor) => {
      const c = rt.keep(rt.empty(x.shape, x.dtype));
      rt.copy(x, c);
      captured.set(name, c);
    };
    // 981 as a number, 500 and 1 as [B] f32 tensors (the scheduler's form)
    for (const step of [981, 500, 1]) {
      const timestep = step === 981 ? step : rt.keep(rt.upload([step, step], [2], 'f32'));
      const dispatchesBefore = rt.dispatches;
      const out = unet.forward(golden.sample, timestep, golden.context, step === 981 ? { capture: copyOut } : {});
      if (step === 981) t.ok(rt.dispatches > dispatchesBefore, `${dtype}: forward recorded ${rt.dispatches - dispatchesBefore} dispatches`);
      const started = performance.now();
      const values = await rt.read(out);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const err = maxRelError(values, await golden.read(`t${step}.out`));
      t.comment(`${dtype} t${step}: GPU work ${seconds} s`);
      t.ok(err <= bar, `${dtype} t${step}.out: max rel error ${err.toExponential(2)}`);
      t.same(out.shape, [2, 4, 16, 16]);
      t.equal(out.dtype, dtype);
      out.dispose();
      if (typeof timestep !== 'number') timestep.dispose();
    }
    for (const name of INTERMEDIATES) {
      const got = captured.get(name);
      if (!got) {
        t.fail(`${dtype}: ${name} was not captured`);
        continue;
      }
      const err = maxRelError(await rt.read(got), await golden.read(`t981.${name}`));
      t.ok(err <= bar, `${dtype} t981.${name}: max rel error ${err.toExponential(2)}`);
    }
    for (const c of captured.values()) c.dispose();
    unet.dispose();
  }
  await rt.sync();
  await golden.dispose();
});

t.test('bad inputs are refused with clear messages', { timeout: 300_000 }, async (t) => {
  const rt = await testRuntime();
  const unet = await loadTinyUNet(rt, 'f32');
  const ctx = rt.zeros([1, 77, 32], 'f32');
  // Latent sides that are not multiples of 8 run as in diffusers: stride-2 convs round up and the
  // upsamplers resize to the skip's size (13×9 → 7×5 → 4×3 → 2×2 and back).
  const odd = rt.upload(Float32Array.from({ length: 4 * 13 * 9 }, (_, i) => Math.sin(i * 0.37)), [1, 4, 13, 9], 'f32');
  const oddOut = unet.forward(odd, 10, ctx);
  t.same(oddOut.shape, [1, 4, 13, 9], 'odd latent keeps its size');
  const oddValues = await rt.read(oddOut);
  t.ok(oddValues.every(Number.isFinite) && oddValues.some((v) => v !== 0), 'odd latent output is finite and non-trivial');
  oddOut.dispose();
  const wrongChannels = rt.zeros([1, 3, 16, 16], 'f32');
  t.throws(() => unet.forward(wrongChannels, 10, ctx), /expected \[B, 4, h, w\]/);
  const good = rt.zeros([1, 4, 16, 16], 'f32');
  const wrongContext = rt.zeros([1, 77, 16], 'f32');
  t.throws(() => unet.forward(good, 10, wrongContext), /encoder hidden states/);
  t.throws(() => unet.forward(good, 10, ctx, { guidance: 'cfg' }), /even batch/);
  for (const x of [ctx, odd, wrongChannels, good, wrongContext]) x.dispose();
  unet.dispose();
  t.throws(() => unet.forward(good, 10, ctx), /after dispose/);
});

t.test('a non-square latent runs (8×24, batch 1, no CFG)', { timeout: 300_000 }, async (t) => {
  const rt = await testRuntime();
  const unet = await loadTinyUNet(rt, 'f32');
  const sample = rt.upload(Float32Array.from({ length: 4 * 8 * 24 }, (_, i) => Math.sin(i)), [1, 4, 8, 24], 'f32');
  const ctx = rt.upload(Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(i)), [1, 77, 32], 'f32');
  const out = unet.forward(sample, 500, ctx);
  t.same(out.shape, [1, 4, 8, 24]);
  const values = await rt.read(out);
  t.ok(values.every(Number.isFinite), 'finite');
  for (const x of [sample, ctx, out]) x.dispose();
  unet.dispose();
});

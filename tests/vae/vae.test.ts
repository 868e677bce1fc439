import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { FloatDType } from '../../runtime/dtype.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { vaeParameterShapes } from '../../vae/parameters.js';
import { vaeDType } from '../../vae/vae.js';
import { SD15_VAE_CONFIG } from '../../vae/config.js';
import { loadTinyVae, openVaeGolden, tinyVaeConfig, VAE_TOLERANCE, VAE_WEIGHTS } from './fixture.js';

const DECODER_INTERMEDIATES = [
  'post_quant_conv',
  'decoder.conv_in',
  'decoder.mid_block',
  'decoder.up_blocks.0',
  'decoder.up_blocks.1',
  'decoder.up_blocks.2',
  'decoder.up_blocks.3',
];

t.test('parameter names and shapes are those of the diffusers checkpoint', async (t) => {
  const file = await SafetensorsFile.open(VAE_WEIGHTS);
  const config = tinyVaeConfig();
  const shapes = vaeParameterShapes(config);
  const stored = new Map([...file.entries.values()].map((e) => [e.name, [...e.shape]]));
  t.same([...shapes.keys()].sort(), [...stored.keys()].sort(), 'same names');
  const misshapen = [...shapes].filter(([name, shape]) => JSON.stringify(shape) !== JSON.stringify(stored.get(name)));
  t.same(misshapen, [], `all ${shapes.size} shapes agree`);
  const decoder = vaeParameterShapes(config, 'decoder');
  const encoder = vaeParameterShapes(config, 'encoder');
  t.equal(decoder.size + encoder.size, shapes.size, 'decoder and encoder parameters partition the model');
  t.ok([...decoder.keys()].every((k) => k.startsWith('decoder.') || k === 'post_quant_conv.weight' || k === 'post_quant_conv.bias'));
  await file.close();
  // SD 1.5: 34.16M encoder + 49.49M decoder parameters (83.65M in all, as diffusers counts)
  const count = (m: Map<string, number[]>) => [...m.values()].reduce((s, shape) => s + shape.reduce((p, d) => p * d, 1), 0);
  t.equal(count(vaeParameterShapes(SD15_VAE_CONFIG)), 83653863, 'SD 1.5 VAE parameter count');
  t.equal(vaeDType(SD15_VAE_CONFIG, 'f16'), 'f32', 'force_upcast keeps the SD 1.5 VAE in f32');
  t.equal(vaeDType({ ...SD15_VAE_CONFIG, forceUpcast: false }, 'f16'), 'f16');
});

t.test('decode and encode match diffusers, with every decoder intermediate', { timeout: 600_000 }, async (t) => {
  const rt = await testRuntime();
  const golden = await openVaeGolden();
  const latents = rt.keep(await golden.upload(rt, 'latents'));
  const decodedRef = await golden.read('decoded');
  const image = rt.keep(await golden.upload(rt, 'decoded'));
  for (const dtype of (rt.features.f16 ? ['f32', 'f16'] : ['f32']) as FloatDType[]) {
    const vae = await loadTinyVae(rt, dtype);
    t.equal(vae.dtype, dtype);
    const bar = VAE_TOLERANCE[dtype];
    const captured = new Map<string, Tensor>();
    const copyOut = (name: string, x: Tensor) => {
      const c = rt.keep(rt.empty(x.shape, x.dtype));
      rt.copy(x, c);
      captured.set(name, c);
    };
    let started = performance.now();
    const decoded = vae.decode(latents, { capture: copyOut });
    const values = await rt.read(decoded);
    t.comment(`${dtype} decode [1, 4, 16, 16] → [1, 3, 128, 128]: ${((performance.now() - started) / 1000).toFixed(2)} s`);
    t.same(decoded.shape, [1, 3, 128, 128]);
    t.equal(decoded.dtype, dtype);
    const err = maxRelError(values, decodedRef);
    t.ok(err <= bar, `${dtype} decoded: max rel error ${err.toExponential(2)}`);
    decoded.dispose();
    for (const name of DECODER_INTERMEDIATES) {
      const got = captured.get(name);
      if (!got) {
        t.fail(`${dtype}: ${name} was not captured`);
        continue;
      }
      t.same(got.shape, golden.shape(name), `${name} shape`);
      const e = maxRelError(await rt.read(got), await golden.read(name));
      t.ok(e <= bar, `${dtype} ${name}: max rel error ${e.toExponential(2)}`);
    }
    for (const c of captured.values()) c.dispose();

    started = performance.now();
    const { mean, logvar } = vae.encode(image);
    const [m, lv] = [await rt.read(mean), await rt.read(logvar)];
    t.comment(`${dtype} encode [1, 3, 128, 128] → 2 × [1, 4, 16, 16]: ${((performance.now() - started) / 1000).toFixed(2)} s`);
    t.same(mean.shape, [1, 4, 16, 16]);
    t.same(logvar.shape, [1, 4, 16, 16]);
    const em = maxRelError(m, await golden.read('encoded_mean'));
    const el = maxRelError(lv, await golden.read('encoded_logvar'));
    t.ok(em <= bar, `${dtype} encoded_mean: max rel error ${em.toExponential(2)}`);
    t.ok(el <= bar, `${dtype} encoded_logvar: max rel error ${el.toExponential(2)}`);
    mean.dispose();
    logvar.dispose();
    vae.dispose();
  }
  latents.dispose();
  image.dispose();
  await rt.sync();
  await golden.close();
});

// The fixture holds one tiny model twice: as a diffusers folder and as an LDM single file. Mapped
// to diffusers names, the single file must give exactly the folder's tensors.

import t from 'tap';
import { join } from 'node:path';
import { fromRoot } from '../../runtime/paths.js';
import { roundToF16 } from '../../runtime/half.js';
import { loadParameters, type WeightSource } from '../../runtime/weights.js';
import { openModelFiles, type ModelFiles } from '../../pipeline/model-files.js';
import { testRuntime } from '../support/runtime.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
const folderPath = join(fixture, 'model');
const singlePath = join(fixture, 'single-file.safetensors');

type Component = 'unet' | 'vae' | 'textEncoder';
const COMPONENTS: readonly Component[] = ['unet', 'vae', 'textEncoder'];

function shapes(source: WeightSource): Map<string, readonly number[]> {
  return new Map(source.names().map((n) => [n, source.shape(n)]));
}

/** Values equal after rounding the wider side to the narrower stored dtype (F32 folder vs F16 file). */
async function sameValues(a: WeightSource, b: WeightSource, name: string): Promise<number> {
  let x = await a.readFloat32(name);
  let y = await b.readFloat32(name);
  if (a.stored(name).dtype === 'F16' || b.stored(name).dtype === 'F16') [x, y] = [roundToF16(x), roundToF16(y)];
  let differing = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) differing++;
  return x.length === y.length ? differing : Infinity;
}

t.test('single file mapped to diffusers names equals the folder', async (t) => {
  const folder = await openModelFiles(folderPath);
  const single = await openModelFiles(singlePath, { configFrom: folderPath });
  t.teardown(async () => {
    await single.close();
    await folder.close();
  });
  for (const c of COMPONENTS) {
    const want = folder[c].weights;
    const got = single[c].weights;
    t.same([...got.names()].sort(), [...want.names()].sort(), `${c}: same names (${want.names().length})`);
    const misshapen = want.names().filter((n) => got.has(n) && got.shape(n).join() !== want.shape(n).join());
    t.same(misshapen, [], `${c}: same shapes`);
    const differing: string[] = [];
    for (const n of want.names()) if (got.has(n) && (await sameValues(want, got, n)) !== 0) differing.push(n);
    t.same(differing, [], `${c}: identical values in every tensor`);
  }
  // The mapping's reshape: LDM's 1×1-conv attention kernels become diffusers' linear weights.
  t.same(single.vae.weights.stored('decoder.mid_block.attentions.0.to_q.weight').storedShape, [64, 64, 1, 1]);
  t.same(single.vae.weights.shape('decoder.mid_block.attentions.0.to_q.weight'), [64, 64]);
  t.equal(single.unet.weights.stored('down_blocks.3.resnets.1.conv2.weight').key, 'model.diffusion_model.input_blocks.11.0.out_layers.3.weight');
  t.equal(single.vae.weights.stored('decoder.up_blocks.0.upsamplers.0.conv.weight').key, 'first_stage_model.decoder.up.3.upsample.conv.weight');
});

t.test('loadParameters uploads the single file as the folder model', async (t) => {
  const rt = await testRuntime();
  const folder = await openModelFiles(folderPath);
  const single: ModelFiles = await openModelFiles(singlePath, { configFrom: folderPath });
  t.teardown(async () => {
    await single.close();
    await folder.close();
  });
  const dtypes = rt.features.f16 ? (['f32', 'f16'] as const) : (['f32'] as const);
  for (const dtype of dtypes) {
    // The text encoder whole; the VAE's mid blocks (the reshaped attention weights among them).
    const cases: [Component, (n: string) => boolean][] = [
      ['textEncoder', () => true],
      ['vae', (n) => n.includes('mid_block.') || n.startsWith('post_quant_conv.')],
    ];
    for (const [c, pick] of cases) {
      const expected = new Map([...shapes(folder[c].weights)].filter(([n]) => pick(n)));
      const subset: WeightSource = {
        label: single[c].weights.label,
        names: () => single[c].weights.names().filter(pick),
        has: (n) => pick(n) && single[c].weights.has(n),
        shape: (n) => single[c].weights.shape(n),
        stored: (n) => single[c].weights.stored(n),
        load: (r, n, d) => single[c].weights.load(r, n, d),
        readFloat32: (n) => single[c].weights.readFloat32(n),
      };
      const tensors = await loadParameters(rt, subset, expected, dtype);
      let worst = 0;
      for (const [name, tensor] of tensors) {
        t.same(tensor.shape, expected.get(name), `${c} ${name} shape`);
        const want = roundToF16(await folder[c].weights.readFloat32(name));
        const got = await rt.read(tensor);
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        tensor.dispose();
      }
      t.equal(worst, 0, `${c} ${dtype}: ${tensors.size} tensors read back exactly`);
    }
  }
});

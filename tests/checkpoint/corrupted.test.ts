// A damaged copy of the single-file fixture: per component one tensor missing, one extra, one
// with the wrong shape. Loading must fail with ONE error that lists all three, before any upload.

import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../../runtime/safetensors.js';
import { loadParameters, WeightMismatchError, type WeightSource } from '../../runtime/weights.js';
import { openModelFiles } from '../../pipeline/model-files.js';
import { testRuntime } from '../support/runtime.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
const folderPath = join(fixture, 'model');
const singlePath = join(fixture, 'single-file.safetensors');

interface Damage {
  readonly component: 'unet' | 'vae' | 'textEncoder';
  readonly drop: string;
  readonly add: { key: string; shape: number[] };
  readonly reshape: { key: string; shape: number[] };
  /** What the error must name: the missing and misshapen weights' diffusers names, the extra one's name. */
  readonly missingName: string;
  readonly unexpectedName: string;
  readonly misshapenName: string;
}

const DAMAGE: readonly Damage[] = [
  {
    component: 'unet',
    drop: 'model.diffusion_model.input_blocks.1.1.proj_in.bias',
    add: { key: 'model.diffusion_model.bogus.weight', shape: [3] },
    reshape: { key: 'model.diffusion_model.out.2.weight', shape: [4, 32, 3, 2] },
    missingName: 'down_blocks.0.attentions.0.proj_in.bias [32]',
    unexpectedName: 'model.diffusion_model.bogus.weight [3]',
    misshapenName: 'conv_out.weight: model wants [4, 32, 3, 3], checkpoint has [4, 32, 3, 2]',
  },
  {
    component: 'vae',
    drop: 'first_stage_model.decoder.mid.attn_1.q.bias',
    add: { key: 'first_stage_model.encoder.down.0.block.0.extra.weight', shape: [2, 2] },
    reshape: { key: 'first_stage_model.quant_conv.weight', shape: [8, 4, 1, 1] },
    missingName: 'decoder.mid_block.attentions.0.to_q.bias [64]',
    unexpectedName: 'first_stage_model.encoder.down.0.block.0.extra.weight [2, 2]',
    misshapenName: 'quant_conv.weight: model wants [8, 8, 1, 1], checkpoint has [8, 4, 1, 1]',
  },
  {
    component: 'textEncoder',
    drop: 'cond_stage_model.transformer.final_layer_norm.bias',
    add: { key: 'cond_stage_model.transformer.encoder.layers.3.mlp.fc1.weight', shape: [128, 32] },
    reshape: { key: 'cond_stage_model.transformer.embeddings.position_embedding.weight', shape: [76, 32] },
    missingName: 'final_layer_norm.bias [32]',
    unexpectedName: 'encoder.layers.3.mlp.fc1.weight [128, 32] (stored as cond_stage_model.transformer.encoder.layers.3.mlp.fc1.weight)',
    misshapenName: 'embeddings.position_embedding.weight: model wants [77, 32], checkpoint has [76, 32]',
  },
];

async function writeDamagedCopy(path: string): Promise<void> {
  const src = await SafetensorsFile.open(singlePath);
  try {
    const out: Record<string, TensorToWrite> = {};
    for (const e of src.entries.values()) {
      if (DAMAGE.some((d) => d.drop === e.name)) continue;
      const reshape = DAMAGE.find((d) => d.reshape.key === e.name)?.reshape;
      const raw = await src.readRaw(e.name);
      const shape = reshape?.shape ?? e.shape;
      const bytes = shape.reduce((p, d) => p * d, 1) * 2;
      out[e.name] = { dtype: e.dtype, shape, data: raw.subarray(0, bytes) };
    }
    for (const d of DAMAGE) {
      out[d.add.key] = { dtype: 'F16', shape: d.add.shape, data: new Uint16Array(d.add.shape.reduce((p, x) => p * x, 1)) };
    }
    // A buffer older transformers saved: must be dropped silently, never reported.
    out['cond_stage_model.transformer.text_model.embeddings.position_ids'] = {
      dtype: 'I64',
      shape: [1, 77],
      data: BigInt64Array.from({ length: 77 }, (_, i) => BigInt(i)),
    };
    await writeSafetensors(path, out, { format: 'pt' });
  } finally {
    await src.close();
  }
}

t.test('a damaged checkpoint fails with one error listing everything wrong', async (t) => {
  const rt = await testRuntime();
  const dir = await mkdtemp(join(tmpdir(), 'sd-damaged-'));
  const damagedPath = join(dir, 'damaged.safetensors');
  await writeDamagedCopy(damagedPath);
  const folder = await openModelFiles(folderPath);
  const damaged = await openModelFiles(damagedPath, { configFrom: folderPath });
  t.teardown(async () => {
    await damaged.close();
    await folder.close();
    await rm(dir, { recursive: true, force: true });
  });
  t.ok(!damaged.textEncoder.weights.has('embeddings.position_ids'), 'position_ids dropped');

  for (const d of DAMAGE) {
    const reference: WeightSource = folder[d.component].weights;
    const expected = new Map(reference.names().map((n) => [n, reference.shape(n)]));
    const buffersBefore = rt.pool.stats().liveBytes;
    let error: unknown;
    try {
      await loadParameters(rt, damaged[d.component].weights, expected, 'f32');
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof WeightMismatchError, `${d.component}: WeightMismatchError`);
    if (!(error instanceof WeightMismatchError)) continue;
    t.equal(error.missing.length, 1, `${d.component}: one missing`);
    t.equal(error.unexpected.length, 1, `${d.component}: one unexpected`);
    t.equal(error.wrongShape.length, 1, `${d.component}: one wrong shape`);
    t.equal(error.nonFloat.length, 0);
    for (const line of [d.missingName, d.unexpectedName, d.misshapenName]) t.match(error.message, line, `${d.component} names ${line}`);
    t.match(error.message, /3 problems/);
    t.equal(rt.pool.stats().liveBytes, buffersBefore, 'nothing uploaded');
    t.comment(error.message);
  }
});

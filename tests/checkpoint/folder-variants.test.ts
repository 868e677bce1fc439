// diffusers folders as found in the wild: fp16 variants beside the plain files, sharded weights
// with an index, the old VAE attention names, and pickle-only folders.

import t from 'tap';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../runtime/paths.js';
import { roundToF16, toF16Array } from '../../runtime/half.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../../runtime/safetensors.js';
import { openModelFiles } from '../../pipeline/model-files.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
const folderPath = join(fixture, 'model');

const LEGACY: Readonly<Record<string, string>> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };

/** vae/ as an fp16 variant with pre-0.14 attention names (query/key/value/proj_attn). */
async function writeLegacyFp16Vae(path: string): Promise<void> {
  const src = await SafetensorsFile.open(join(folderPath, 'vae', 'diffusion_pytorch_model.safetensors'));
  try {
    const out: Record<string, TensorToWrite> = {};
    for (const e of src.entries.values()) {
      const name = e.name.replace(/mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\./, (_, p: string) => `mid_block.attentions.0.${LEGACY[p]}.`);
      out[name] = { dtype: 'F16', shape: e.shape, data: toF16Array(await src.readFloat32(e.name)) };
    }
    await writeSafetensors(path, out);
  } finally {
    await src.close();
  }
}

/** text_encoder/ split into two shards with transformers' index (and `text_model.` names, as older transformers wrote). */
async function writeShardedTextEncoder(dir: string): Promise<void> {
  const src = await SafetensorsFile.open(join(folderPath, 'text_encoder', 'model.safetensors'));
  try {
    const shards: Record<string, TensorToWrite>[] = [{}, {}];
    const weightMap: Record<string, string> = {};
    let i = 0;
    for (const e of src.entries.values()) {
      const shard = i++ % 2;
      const name = `text_model.${e.name}`;
      shards[shard]![name] = { dtype: e.dtype, shape: e.shape, data: await src.readRaw(e.name) };
      weightMap[name] = `model-0000${shard + 1}-of-00002.safetensors`;
    }
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), shards[0]!);
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), shards[1]!);
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  } finally {
    await src.close();
  }
}

t.test('fp16 variants, shards and legacy names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sd-variants-'));
  const reference = await openModelFiles(folderPath);
  t.teardown(async () => {
    await reference.close();
    await rm(dir, { recursive: true, force: true });
  });
  await copyFile(join(folderPath, 'model_index.json'), join(dir, 'model_index.json'));
  for (const c of ['unet', 'vae', 'text_encoder', 'scheduler']) await mkdir(join(dir, c));
  for (const c of ['unet', 'vae', 'text_encoder']) await copyFile(join(folderPath, c, 'config.json'), join(dir, c, 'config.json'));
  await copyFile(join(folderPath, 'scheduler', 'scheduler_config.json'), join(dir, 'scheduler', 'scheduler_config.json'));
  await symlink(join(folderPath, 'tokenizer'), join(dir, 'tokenizer'));
  await symlink(join(folderPath, 'unet', 'diffusion_pytorch_model.safetensors'), join(dir, 'unet', 'diffusion_pytorch_model.fp16.safetensors'));
  await symlink(join(folderPath, 'vae', 'diffusion_pytorch_model.safetensors'), join(dir, 'vae', 'diffusion_pytorch_model.safetensors'));
  await writeLegacyFp16Vae(join(dir, 'vae', 'diffusion_pytorch_model.fp16.safetensors'));
  await writeShardedTextEncoder(join(dir, 'text_encoder'));

  const f16 = await openModelFiles(dir, { dtype: 'f16' });
  const f32 = await openModelFiles(dir, { dtype: 'f32' });
  t.teardown(async () => {
    await f16.close();
    await f32.close();
  });
  t.match(f16.vae.files[0], /diffusion_pytorch_model\.fp16\.safetensors$/, 'f16 picks the fp16 variant');
  t.match(f32.vae.files[0], /diffusion_pytorch_model\.safetensors$/, 'f32 picks the plain file');
  t.match(f32.unet.files[0], /\.fp16\.safetensors$/, 'f32 falls back to the only (fp16) file');
  t.equal(f16.textEncoder.files.length, 2, 'both shards');
  t.equal(f16.tokenizerDir, join(dir, 'tokenizer'));

  for (const [c, files] of [['vae', f16], ['textEncoder', f16], ['unet', f32]] as const) {
    const want = reference[c].weights;
    const got = files[c].weights;
    t.same([...got.names()].sort(), [...want.names()].sort(), `${c}: same names`);
    let differing = 0;
    for (const n of want.names()) {
      const [x, y] = [roundToF16(await want.readFloat32(n)), await got.readFloat32(n)];
      if (got.shape(n).join() !== want.shape(n).join() || x.some((v, i) => v !== y[i])) differing++;
    }
    t.equal(differing, 0, `${c}: same shapes and values`);
  }
});

t.test('pickle-only and incomplete folders are refused clearly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sd-pickle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'model_index.json'), '{}');
  await mkdir(join(dir, 'unet'));
  await writeFile(join(dir, 'unet', 'diffusion_pytorch_model.bin'), '');
  await t.rejects(openModelFiles(dir), /only PyTorch pickle weights \(diffusion_pytorch_model\.bin\)/);
  await rm(join(dir, 'unet', 'diffusion_pytorch_model.bin'));
  await t.rejects(openModelFiles(dir), /has no diffusion_pytorch_model\.safetensors/);
  await rm(join(dir, 'unet'), { recursive: true });
  await t.rejects(openModelFiles(dir), /has no unet\//);
});

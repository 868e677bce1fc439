import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testRuntime } from '../support/runtime.js';
import { fromRoot } from '../../runtime/paths.js';
import { f32ToF16Bits } from '../../runtime/half.js';
import { loadParameters } from '../../runtime/weights.js';
import { openModelFiles } from '../../pipeline/model-files.js';
import { unetParameterShapes } from '../../unet/parameters.js';
import { vaeParameterShapes } from '../../vae/parameters.js';
import { clipTextParameterShapes } from '../../clip/text-encoder.js';
import { UNet } from '../../unet/unet.js';
import { ClipTokenizer } from '../../clip/tokenizer.js';
import { planCheckpoint } from '../../scripts/random-checkpoint/plan.js';
import { FIXTURE_MODEL_DIR } from '../../scripts/random-checkpoint/configs.js';
import { stagingDir, writeRandomCheckpoint, type WriteOptions } from '../../scripts/random-checkpoint/write.js';
import { toF16Bits } from '../../scripts/random-checkpoint/f16.js';
import { TensorRng } from '../../scripts/random-checkpoint/rng.js';

t.setTimeout(600_000);

const work = mkdtempSync(join(tmpdir(), 'random-checkpoint-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const tokenizerFrom = join(FIXTURE_MODEL_DIR, 'tokenizer');
const options = (out: string, extra: Partial<WriteOptions> = {}): WriteOptions => ({ out: join(work, out), seed: 0, tokenizerFrom, ...extra });

t.test('the SD 1.5 plan has SD 1.5 parameter counts and file sizes (dry run, nothing written)', async (t) => {
  const plan = planCheckpoint('sd15', 'f16');
  const byName = new Map(plan.components.map((c) => [c.component, c]));
  // diffusers and transformers count 859.52M, 83.65M and 123.06M parameters
  t.equal(byName.get('unet')!.params, 859_520_964);
  t.equal(byName.get('vae')!.params, 83_653_863);
  t.equal(byName.get('text_encoder')!.params, 123_060_480);
  t.same(plan.components.map((c) => c.tensors.length), [686, 248, 196], 'tensors per file, as in the SD 1.5 repository');
  t.ok(byName.get('text_encoder')!.tensors.every((x) => x.key.startsWith('text_model.')), 'transformers names');
  for (const c of plan.components) {
    const header = c.bytes - 2 * c.params;
    t.ok(header > 0 && header < 200_000 && header % 8 === 0, `${c.weightsFile}: 2 bytes per parameter plus a ${header}-byte header`);
  }
  const f32 = planCheckpoint('sd15', 'f32');
  t.ok(f32.bytes > 2 * plan.bytes - 1_000_000 && f32.bytes < 2 * plan.bytes, 'f32 takes twice the bytes');

  const run = spawnSync(process.execPath, [fromRoot('scripts', 'make-random-checkpoint.js'), '--arch', 'sd15', '--dry-run'], { encoding: 'utf8' });
  if (run.status !== 0) t.comment(run.stderr);
  t.equal(run.status, 0, 'dry run exits 0');
  t.match(run.stdout, /total 1,066,235,307 parameters, 2\.13 GB/);
});

t.test('a tiny random checkpoint loads through openModelFiles and runs the U-Net', async (t) => {
  const rt = await testRuntime();
  const result = await writeRandomCheckpoint(planCheckpoint('tiny', 'f16'), options('tiny'));
  t.ok(existsSync(join(result.out, 'model_index.json')));
  t.notOk(existsSync(stagingDir(result.out)), 'the staging folder is gone');
  const tokenizer = await ClipTokenizer.load(join(result.out, 'tokenizer'));
  t.equal(tokenizer.eosId, 49407, 'the CLIP tokenizer came along');

  for (const dtype of rt.features.f16 ? (['f16', 'f32'] as const) : (['f32'] as const)) {
    const files = await openModelFiles(result.out, { dtype });
    t.equal(files.layout, 'diffusers');
    // loadParameters checks every name and shape against the model code before uploading
    const text = await loadParameters(rt, files.textEncoder.weights, clipTextParameterShapes(files.textEncoder.config), dtype);
    const vae = await loadParameters(rt, files.vae.weights, vaeParameterShapes(files.vae.config), dtype);
    for (const w of [...text.values(), ...vae.values()]) w.dispose();
    const weights = await loadParameters(rt, files.unet.weights, unetParameterShapes(files.unet.config), dtype);
    const unet = UNet.create(rt, files.unet.config, weights, dtype);
    const sample = rt.upload(Float32Array.from({ length: 2 * 4 * 16 * 16 }, (_, i) => Math.sin(i * 0.37)), [2, 4, 16, 16], 'f32');
    const context = rt.upload(Float32Array.from({ length: 2 * 77 * 32 }, (_, i) => Math.cos(i * 0.11)), [2, 77, 32], 'f32');
    const out = unet.forward(sample, 500, context);
    const values = await rt.read(out);
    t.ok(values.every(Number.isFinite), `${dtype}: U-Net output finite`);
    const spread = Math.max(...values) - Math.min(...values);
    t.ok(spread > 1e-3, `${dtype}: and not constant (spread ${spread.toExponential(2)})`);
    for (const x of [sample, context, out]) x.dispose();
    unet.dispose();
    await files.close();
  }
});

t.test('values follow the documented initialisation and depend only on the seed', async (t) => {
  const a = await writeRandomCheckpoint(planCheckpoint('tiny', 'f32'), options('seed7-a', { seed: 7 }));
  const b = await writeRandomCheckpoint(planCheckpoint('tiny', 'f32'), options('seed7-b', { seed: 7 }));
  const c = await writeRandomCheckpoint(planCheckpoint('tiny', 'f32'), options('seed8', { seed: 8 }));
  const unetFile = (dir: string): Buffer => readFileSync(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'));
  t.ok(unetFile(a.out).equals(unetFile(b.out)), 'same seed, same bytes');
  t.notOk(unetFile(a.out).equals(unetFile(c.out)), 'another seed, other values');

  const files = await openModelFiles(a.out);
  t.teardown(() => files.close());
  const values = (source: 'unet' | 'textEncoder', name: string): Promise<Float32Array> => files[source].weights.readFloat32(name);
  const conv = await values('unet', 'down_blocks.1.resnets.0.conv1.weight'); // [32, 32, 3, 3]: fan-in 288
  const bound = 1 / Math.sqrt(288);
  t.ok(conv.every((v) => Math.abs(v) <= bound), 'conv weight within ±1/√fan_in');
  t.ok(Math.abs(std(conv) - bound / Math.sqrt(3)) < 0.05 * bound, `uniform spread: std ${std(conv).toFixed(4)}`);
  const linearBias = await values('unet', 'time_embedding.linear_2.bias'); // weight [128, 128]
  t.ok(linearBias.every((v) => Math.abs(v) <= 1 / Math.sqrt(128)) && linearBias.some((v) => v !== 0), 'bias within the weight fan-in bound');
  t.ok((await values('unet', 'down_blocks.0.resnets.0.norm1.weight')).every((v) => v === 1), 'GroupNorm weight 1');
  t.ok((await values('unet', 'down_blocks.0.resnets.0.norm1.bias')).every((v) => v === 0), 'GroupNorm bias 0');
  t.ok((await values('textEncoder', 'encoder.layers.0.layer_norm1.weight')).every((v) => v === 1), 'LayerNorm weight 1');
  const tokens = await values('textEncoder', 'embeddings.token_embedding.weight');
  t.ok(Math.abs(std(tokens) - 1) < 0.01 && Math.abs(mean(tokens)) < 0.01, `token embedding N(0, 1): std ${std(tokens).toFixed(4)}`);
  const positions = await values('textEncoder', 'embeddings.position_embedding.weight');
  t.ok(Math.abs(std(positions) - 0.01) < 0.001, `position embedding N(0, 0.01²): std ${std(positions).toFixed(5)}`);
});

t.test('an existing folder is kept unless --force, and nothing half-written is left', async (t) => {
  const plan = planCheckpoint('tiny', 'f16');
  const out = join(work, 'occupied');
  mkdirSync(out);
  writeFileSync(join(out, 'keep.txt'), 'mine');
  await t.rejects(writeRandomCheckpoint(plan, options('occupied')), /exists and is not empty; pass --force/);
  t.ok(existsSync(join(out, 'keep.txt')), 'untouched');

  // a failure part-way (here: the progress callback throws at half) removes the staging folder
  const failing = options('occupied', { force: true, onProgress: (p) => { if (p.doneBytes > p.totalBytes / 2) throw new Error('disk full'); } });
  await t.rejects(writeRandomCheckpoint(plan, failing), /disk full/);
  t.notOk(existsSync(stagingDir(out)), 'no staging folder left');
  t.ok(existsSync(join(out, 'keep.txt')), 'the old folder is still there');

  await writeRandomCheckpoint(plan, options('occupied', { force: true }));
  t.notOk(existsSync(join(out, 'keep.txt')), '--force replaced it');
  t.ok(existsSync(join(out, 'unet', 'diffusion_pytorch_model.safetensors')));

  const emptyTokenizer = join(work, 'no-tokenizer');
  mkdirSync(emptyTokenizer);
  await t.rejects(writeRandomCheckpoint(plan, options('other', { tokenizerFrom: emptyTokenizer })), /neither tokenizer\.json nor vocab\.json/);
  t.notOk(existsSync(join(work, 'other')) || existsSync(stagingDir(join(work, 'other'))), 'nothing written');
});

t.test('the fast f16 conversion rounds exactly like f32ToF16Bits', async (t) => {
  const edge = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e9, Infinity, -Infinity, NaN, 6.1035e-5, 6.1e-5, 5.96e-8, 2.98e-8, 2.9802322387695312e-8, 2.99e-8, 1e-10, 0.1, 1 / 3, 2049, 2051];
  const random = new Float32Array(200_000);
  new TensorRng(1, 'f16 test').normal(random, 3);
  for (let i = 0; i < 50_000; i++) random[i] = random[i]! * 1e-5; // subnormals
  for (const values of [Float32Array.from(edge), random]) {
    const got = toF16Bits(values);
    const bad = [...values].filter((v, i) => got[i] !== f32ToF16Bits(v));
    t.same(bad, [], `${values.length} values`);
  }
});

t.test('random streams are keyed by seed and tensor name', async (t) => {
  const draw = (seed: number, key: string): number[] => {
    const out = new Float32Array(8);
    new TensorRng(seed, key).uniform(out, -1, 1);
    return [...out];
  };
  t.same(draw(0, 'unet/a'), draw(0, 'unet/a'));
  t.not(draw(0, 'unet/a').join(), draw(0, 'unet/b').join());
  t.not(draw(0, 'unet/a').join(), draw(1, 'unet/a').join());
  t.ok(draw(5, 'x').every((v) => v >= -1 && v < 1));
});

function mean(v: Float32Array): number {
  return v.reduce((s, x) => s + x, 0) / v.length;
}

function std(v: Float32Array): number {
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
}

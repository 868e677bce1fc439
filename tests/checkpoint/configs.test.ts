import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromRoot } from '../../runtime/paths.js';
import { attentionHeads, parseUNetConfig, SD15_UNET_CONFIG } from '../../unet/config.js';
import { parseVaeConfig, SD15_VAE_CONFIG } from '../../vae/config.js';
import { parseClipTextConfig, SD15_CLIP_TEXT_CONFIG } from '../../clip/config.js';
import { openModelFiles } from '../../pipeline/model-files.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
const folder = join(fixture, 'model');
const singleFile = join(fixture, 'single-file.safetensors');

async function json(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

function errorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
}

t.test('fixture folder configs parse to the tiny model', async (t) => {
  const unet = parseUNetConfig(await json(join(folder, 'unet', 'config.json')));
  t.same(unet.blockOutChannels, [32, 32, 64, 64]);
  t.same(unet.downBlockTypes, ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']);
  t.same(unet.upBlockTypes, ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D']);
  t.equal(unet.layersPerBlock, 2);
  // attention_head_dim 8 with num_attention_heads null: 8 HEADS per block (head dim 4 or 8 here).
  t.same(unet.attentionHeads, [8, 8, 8, 8]);
  t.equal(attentionHeads(unet, 'mid'), 8);
  t.equal(unet.crossAttentionDim, 32);
  t.equal(unet.inChannels, 4);
  t.equal(unet.outChannels, 4);
  t.equal(unet.sampleSize, 16);
  t.equal(unet.normNumGroups, 32);
  t.equal(unet.normEps, 1e-5);
  t.equal(unet.timeEmbeddingDim, 128);
  t.same(unet.transformerLayersPerBlock, [1, 1, 1, 1]);
  t.equal(unet.useLinearProjection, false);
  t.equal(unet.midBlockCrossAttn, true);
  t.equal(unet.flipSinToCos, true);
  t.equal(unet.freqShift, 0);

  const vae = parseVaeConfig(await json(join(folder, 'vae', 'config.json')));
  t.same(vae.blockOutChannels, [32, 32, 32, 64]);
  t.equal(vae.latentChannels, 4);
  t.equal(vae.layersPerBlock, 2);
  t.equal(vae.scalingFactor, 0.18215);
  t.equal(vae.shiftFactor, null);
  t.equal(vae.sampleSize, 128);
  t.equal(vae.normEps, 1e-6);

  const clip = parseClipTextConfig(await json(join(folder, 'text_encoder', 'config.json')));
  t.same(
    { ...clip },
    { vocabSize: 49408, hiddenSize: 32, intermediateSize: 128, heads: 4, layers: 3, maxPositions: 77, eps: 1e-5, activation: 'quick_gelu', bosTokenId: 49406, eosTokenId: 49407, padTokenId: 1 },
  );
});

t.test('an empty config gives SD 1.5', async (t) => {
  t.same(parseUNetConfig({}), SD15_UNET_CONFIG);
  t.same(SD15_UNET_CONFIG.blockOutChannels, [320, 640, 1280, 1280]);
  t.same(SD15_UNET_CONFIG.attentionHeads, [8, 8, 8, 8]);
  t.equal(SD15_UNET_CONFIG.crossAttentionDim, 768);
  t.same(parseVaeConfig({}), SD15_VAE_CONFIG);
  t.same(SD15_VAE_CONFIG.blockOutChannels, [128, 256, 512, 512]);
  t.equal(SD15_VAE_CONFIG.scalingFactor, 0.18215);
  t.same(parseClipTextConfig({}), SD15_CLIP_TEXT_CONFIG);
  t.same([SD15_CLIP_TEXT_CONFIG.hiddenSize, SD15_CLIP_TEXT_CONFIG.layers, SD15_CLIP_TEXT_CONFIG.heads, SD15_CLIP_TEXT_CONFIG.intermediateSize], [768, 12, 12, 3072]);
});

t.test('heads: per-block lists, num_attention_heads precedence, divisibility', async (t) => {
  const c = parseUNetConfig({ attention_head_dim: [5, 10, 20, 20] });
  t.same(c.attentionHeads, [5, 10, 20, 20]);
  t.equal(attentionHeads(c, 'up', 0), 20);
  t.equal(attentionHeads(c, 'up', 3), 5);
  t.equal(attentionHeads(c, 'mid'), 20);
  t.same(parseUNetConfig({ attention_head_dim: 8, num_attention_heads: 16 }).attentionHeads, [16, 16, 16, 16]);
  t.throws(() => parseUNetConfig({ attention_head_dim: 7 }), /320 channels do not split into 7 heads/);
  t.throws(() => parseUNetConfig({ attention_head_dim: [8, 8] }), /2 entries but the model has 4 blocks/);
});

t.test('unsupported settings are listed together', async (t) => {
  const message = errorMessage(() =>
    parseUNetConfig({ class_embed_type: 'timestep', resnet_time_scale_shift: 'scale_shift', up_block_types: ['UpBlock2D', 'X', 'X', 'X'] }),
  );
  for (const key of ['class_embed_type', 'resnet_time_scale_shift', 'up_block_types']) t.match(message, key);
  t.throws(() => parseVaeConfig({ latents_mean: [0, 0, 0, 0] }), /latents_mean/);
  t.throws(() => parseClipTextConfig({ hidden_act: 'relu' }), /hidden_act/);
  t.throws(() => parseClipTextConfig({ hidden_size: 'big' }), /hidden_size must be a positive integer/);
});

t.test('single file: configs inferred from shapes match the folder', async (t) => {
  const folderFiles = await openModelFiles(folder);
  // The text encoder's 32-wide hidden state hides its head count (not a multiple of 64): it must be given.
  await t.rejects(openModelFiles(singleFile), /cannot infer the text encoder's attention heads.*textEncoderHeads/s);
  const single = await openModelFiles(singleFile, { textEncoderHeads: 4 });
  try {
    t.equal(single.layout, 'single-file');
    t.match(single.unet.configSource, /inferred/);
    // Everything but the sample sizes (training resolution, invisible in weights: SD 1.5's taken).
    t.same({ ...single.unet.config, sampleSize: 16 }, folderFiles.unet.config);
    t.equal(single.unet.config.sampleSize, 64);
    t.same({ ...single.vae.config, sampleSize: 128 }, folderFiles.vae.config);
    // Token ids are not in the weights either: SD 1.5's config values.
    t.same({ ...single.textEncoder.config, bosTokenId: 49406, eosTokenId: 49407 }, folderFiles.textEncoder.config);
    t.equal(single.tokenizerDir, null);
    t.equal(single.scheduler.config['beta_schedule'], 'scaled_linear');
  } finally {
    await single.close();
    await folderFiles.close();
  }
});

t.test('single file with configFrom takes the folder configs and tokenizer', async (t) => {
  const folderFiles = await openModelFiles(folder);
  const single = await openModelFiles(singleFile, { configFrom: folder });
  try {
    t.same(single.unet.config, folderFiles.unet.config);
    t.same(single.vae.config, folderFiles.vae.config);
    t.same(single.textEncoder.config, folderFiles.textEncoder.config);
    t.equal(single.tokenizerDir, join(folder, 'tokenizer'));
    t.equal(single.unet.configSource, join(folder, 'unet', 'config.json'));
    t.same(single.scheduler.config, folderFiles.scheduler.config);
  } finally {
    await single.close();
    await folderFiles.close();
  }
});

t.test('head overrides apply and are checked', async (t) => {
  const f = await openModelFiles(folder, { unetAttentionHeads: 4, textEncoderHeads: 2 });
  t.same(f.unet.config.attentionHeads, [4, 4, 4, 4]);
  t.equal(f.textEncoder.config.heads, 2);
  await f.close();
  await t.rejects(openModelFiles(folder, { textEncoderHeads: 5 }), /32 does not split into 5 heads/);
});

t.test('paths that are not checkpoints get clear errors', async (t) => {
  await t.rejects(openModelFiles(join(fixture, 'nope')), /does not exist/);
  await t.rejects(openModelFiles(join(fixture, 'golden')), /not a diffusers folder/);
  await t.rejects(openModelFiles(join(folder, 'unet', 'diffusion_pytorch_model.safetensors')), /lacks the U-Net.*diffusers component file/s);
  await t.rejects(openModelFiles(join(fixture, 'model.ckpt')), /does not exist/);
});

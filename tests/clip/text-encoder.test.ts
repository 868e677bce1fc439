import t from 'tap';
import { readFileSync } from 'node:fs';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { ClipTextEncoder, clipTextParameterShapes } from '../../clip/text-encoder.js';
import { parseClipTextConfig } from '../../clip/config.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { FloatDType } from '../../runtime/dtype.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
const TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2 };

t.test('text encoder matches transformers on every hidden state', async (t) => {
  const rt = await testRuntime();
  const config = parseClipTextConfig(JSON.parse(readFileSync(`${fixture}/model/text_encoder/config.json`, 'utf8')));
  const weightsFile = await SafetensorsFile.open(`${fixture}/model/text_encoder/model.safetensors`);
  const golden = await SafetensorsFile.open(`${fixture}/golden/text_encoder.safetensors`);
  const ids = Uint32Array.from(await golden.readInts('input_ids'));
  const [prompts, seq] = golden.entry('input_ids').shape as [number, number];

  for (const dtype of (rt.features.f16 ? ['f32', 'f16'] : ['f32']) as FloatDType[]) {
    const weights = new Map<string, Tensor>();
    for (const name of clipTextParameterShapes(config).keys()) weights.set(name, await weightsFile.readToGpu(rt, name, dtype));
    const encoder = ClipTextEncoder.create(rt, config, weights);
    const idTensor = rt.upload(ids, [prompts, seq], 'u32');
    const hidden: Tensor[] = [];
    const last = encoder.encode(idTensor, { capture: (_, h) => hidden.push(rt.keep(h)) });
    for (let i = 0; i < hidden.length; i++) {
      const err = maxRelError(await rt.read(hidden[i]!), await golden.readFloat32(`hidden_states.${i}`));
      t.ok(err <= TOLERANCE[dtype], `${dtype} hidden_states.${i}: max rel error ${err.toExponential(2)}`);
    }
    const err = maxRelError(await rt.read(last), await golden.readFloat32('last_hidden_state'));
    t.ok(err <= TOLERANCE[dtype], `${dtype} last_hidden_state: max rel error ${err.toExponential(2)}`);

    // clip skip 2 = hidden_states[-2] through the final layer norm.
    const skipped = encoder.encode(idTensor, { clipSkip: 2 });
    const penultimate = await golden.readFloat32(`hidden_states.${config.layers - 1}`);
    const want = hostLayerNorm(
      penultimate,
      config.hiddenSize,
      await weightsFile.readFloat32('final_layer_norm.weight'),
      await weightsFile.readFloat32('final_layer_norm.bias'),
      config.eps,
    );
    const skipErr = maxRelError(await rt.read(skipped), want);
    t.ok(skipErr <= TOLERANCE[dtype], `${dtype} clip skip 2: max rel error ${skipErr.toExponential(2)}`);
    for (const h of [...hidden, last, skipped, idTensor]) h.dispose();
    encoder.dispose();
  }
  await weightsFile.close();
  await golden.close();
});

function hostLayerNorm(x: Float32Array, width: number, gamma: Float32Array, beta: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    const row = x.subarray(r * width, (r + 1) * width);
    const mean = row.reduce((a, v) => a + v, 0) / width;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / width;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < width; c++) out[r * width + c] = (row[c]! - mean) * inv * gamma[c]! + beta[c]!;
  }
  return out;
}

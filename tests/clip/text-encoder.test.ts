import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import { fromRoot } from '../../runtime/paths.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { loadParameters } from '../../runtime/weights.js';
import { openModelFiles, type ModelFiles } from '../../pipeline/model-files.js';
import { ClipTextEncoder, clipTextParameterShapes } from '../../clip/text-encoder.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { Runtime } from '../../runtime/runtime.js';

const fixture = fromRoot('tests', 'fixtures', 'tiny-sd');
const TOLERANCE: Record<FloatDType, number> = { f32: 1e-4, f16: 1e-2 };

async function loadEncoder(rt: Runtime, files: ModelFiles, dtype: FloatDType): Promise<ClipTextEncoder> {
  const config = files.textEncoder.config;
  return ClipTextEncoder.create(rt, config, await loadParameters(rt, files.textEncoder.weights, clipTextParameterShapes(config), dtype));
}

t.test('text encoder matches transformers on every hidden state, from both checkpoint layouts', async (t) => {
  const rt = await testRuntime();
  const golden = await SafetensorsFile.open(`${fixture}/golden/text_encoder.safetensors`);
  const ids = Uint32Array.from(await golden.readInts('input_ids'));
  const [prompts, seq] = golden.entry('input_ids').shape as [number, number];
  const idTensor = rt.upload(ids, [prompts, seq], 'u32');

  for (const dtype of (rt.features.f16 ? ['f32', 'f16'] : ['f32']) as FloatDType[]) {
    const folder = await openModelFiles(`${fixture}/model`, { dtype });
    const single = await openModelFiles(`${fixture}/single-file.safetensors`, { dtype, configFrom: `${fixture}/model` });
    const config = folder.textEncoder.config;
    const encoder = await loadEncoder(rt, folder, dtype);
    const hidden: Tensor[] = [];
    const last = encoder.encode(idTensor, { capture: (_, h) => hidden.push(rt.keep(h)) });
    t.equal(hidden.length, config.layers + 1, 'embeddings and one state per layer');
    for (let i = 0; i < hidden.length; i++) {
      const err = maxRelError(await rt.read(hidden[i]!), await golden.readFloat32(`hidden_states.${i}`));
      t.ok(err <= TOLERANCE[dtype], `${dtype} hidden_states.${i}: max rel error ${err.toExponential(2)}`);
    }
    const lastValues = await rt.read(last);
    const err = maxRelError(lastValues, await golden.readFloat32('last_hidden_state'));
    t.ok(err <= TOLERANCE[dtype], `${dtype} last_hidden_state: max rel error ${err.toExponential(2)}`);

    // clip skip 2 = hidden_states[-2] through the final layer norm.
    const skipped = encoder.encode(idTensor, { clipSkip: 2 });
    const want = hostLayerNorm(
      await golden.readFloat32(`hidden_states.${config.layers - 1}`),
      config.hiddenSize,
      await folder.textEncoder.weights.readFloat32('final_layer_norm.weight'),
      await folder.textEncoder.weights.readFloat32('final_layer_norm.bias'),
      config.eps,
    );
    const skipErr = maxRelError(await rt.read(skipped), want);
    t.ok(skipErr <= TOLERANCE[dtype], `${dtype} clip skip 2: max rel error ${skipErr.toExponential(2)}`);
    t.throws(() => encoder.encode(idTensor, { clipSkip: config.layers + 1 }), /clip skip/);

    // The single-file checkpoint holds the same weights (its text encoder is F16, like the folder's).
    const fromSingle = await loadEncoder(rt, single, dtype);
    const singleLast = fromSingle.encode(idTensor);
    t.same(await rt.read(singleLast), lastValues, `${dtype} single-file output identical to the folder's`);

    for (const h of [...hidden, last, skipped, singleLast]) h.dispose();
    encoder.dispose();
    fromSingle.dispose();
    await folder.close();
    await single.close();
  }
  idTensor.dispose();
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

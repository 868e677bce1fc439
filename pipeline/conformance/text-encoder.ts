// Text encoder conformance: every hidden state transformers recorded for the golden input ids
// (hidden_states.i: 0 = embeddings, i = after layer i), the final one after the last layer norm,
// and the pooled output (the final state at each prompt's end-of-text token).

import type { Tensor } from '../../runtime/tensor.js';
import { loadTextEncoder, disposeAll } from './models.js';
import { maxRelError } from './metrics.js';
import { MODEL_TOLERANCE, type ConformancePart, type PartContext } from './types.js';

const GOLDEN = 'text_encoder';
const HIDDEN = /^hidden_states\.(\d+)$/;

export const textEncoderPart: ConformancePart = {
  name: 'text-encoder',
  description: 'CLIP text encoder hidden states, last_hidden_state and pooler_output against transformers',
  claims: (file) => file === GOLDEN,
  async run(ctx: PartContext): Promise<void> {
    if (!ctx.golden.has(GOLDEN)) return;
    const { rt, dtype } = ctx;
    const golden = await ctx.golden.open(GOLDEN);
    const [batch, seq] = golden.shape('input_ids') as [number, number];
    const ids = await golden.ints('input_ids');
    const files = await ctx.folder();
    const bar = MODEL_TOLERANCE[dtype];
    const wanted = golden
      .tensors()
      .map((n) => HIDDEN.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);

    const encoder = await loadTextEncoder(rt, files, dtype);
    const idTensor = rt.upload(Uint32Array.from(ids), [batch, seq], 'u32');
    const hidden = new Map<number, Tensor>();
    let last: Tensor | null = null;
    try {
      last = encoder.encode(idTensor, {
        capture: (i, h) => {
          if (wanted.includes(i)) hidden.set(i, rt.keep(h));
        },
      });
      for (const i of wanted) {
        const name = `hidden_states.${i}`;
        const got = hidden.get(i);
        if (!got) {
          ctx.fail(`text_encoder ${name}`, `the encoder has ${encoder.dims.layers} layers, so no hidden state ${i}`);
          continue;
        }
        ctx.check({ name: `text_encoder ${name}`, metric: 'max rel error', error: maxRelError(await rt.read(got), await golden.floats(name)), bar });
      }
      const lastValues = await rt.read(last);
      if (golden.has('last_hidden_state')) {
        const error = maxRelError(lastValues, await golden.floats('last_hidden_state'));
        ctx.check({ name: 'text_encoder last_hidden_state', metric: 'max rel error', error, bar });
      }
      if (golden.has('pooler_output')) {
        const pooled = poolAtEndToken(lastValues, ids, batch, seq, encoder.dims.hiddenSize, files.textEncoder.config.eosTokenId);
        const error = maxRelError(pooled, await golden.floats('pooler_output'));
        ctx.check({ name: 'text_encoder pooler_output', metric: 'max rel error', error, bar });
      }
    } finally {
      disposeAll(hidden.values());
      last?.dispose();
      idTensor.dispose();
      encoder.dispose();
    }
  },
};

/**
 * CLIPTextTransformer's pooled output: the final state at the end-of-text token. Configs that still
 * say eos_token_id 2 (SD 1.5's, a leftover) make transformers take the largest id instead, which
 * is the end token in CLIP's vocabulary.
 */
function poolAtEndToken(states: Float32Array, ids: Int32Array, batch: number, seq: number, width: number, eosId: number): Float32Array {
  const out = new Float32Array(batch * width);
  for (let b = 0; b < batch; b++) {
    const row = ids.subarray(b * seq, (b + 1) * seq);
    let at = 0;
    if (eosId === 2) {
      for (let s = 1; s < seq; s++) if (row[s]! > row[at]!) at = s;
    } else {
      const found = row.indexOf(eosId);
      at = found < 0 ? 0 : found;
    }
    out.set(states.subarray((b * seq + at) * width, (b * seq + at + 1) * width), b * width);
  }
  return out;
}

// The text encoder's configuration: transformers' CLIPTextModel config.json (CLIPTextConfig), plus
// inference from weight shapes for single-file checkpoints. Field names match ClipTextDims in
// clip/text-encoder.ts, so a ClipTextConfig can be passed where dims are wanted.

import { ConfigFields } from '../pipeline/config-json.js';
import { countIndices, type ShapeIndex } from '../runtime/weights.js';

export type ClipActivation = 'quick_gelu' | 'gelu';

export interface ClipTextConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly heads: number;
  readonly layers: number;
  /** Longest token sequence (77): the position embedding's rows. */
  readonly maxPositions: number;
  /** LayerNorm eps. */
  readonly eps: number;
  readonly activation: ClipActivation;
  readonly bosTokenId: number;
  /**
   * As written in the config. SD 1.5's text_encoder/config.json says 2, a leftover of old
   * transformers defaults; the tokenizer's real end token is 49407. Only pooled outputs care.
   */
  readonly eosTokenId: number;
  readonly padTokenId: number;
}

/** OpenAI CLIP ViT-L/14's text tower, SD 1.5's text encoder (runwayml text_encoder/config.json). */
export const SD15_CLIP_TEXT_CONFIG: ClipTextConfig = Object.freeze({
  vocabSize: 49408,
  hiddenSize: 768,
  intermediateSize: 3072,
  heads: 12,
  layers: 12,
  maxPositions: 77,
  eps: 1e-5,
  activation: 'quick_gelu',
  bosTokenId: 0,
  eosTokenId: 2,
  padTokenId: 1,
} satisfies ClipTextConfig);

/** CLIP's text towers (ViT-B/L/H/bigG) all use 64-wide heads. */
export const CLIP_HEAD_DIM = 64;

/** Parses transformers' text_encoder/config.json (missing keys take SD 1.5's values). */
export function parseClipTextConfig(json: unknown, source = 'text_encoder/config.json'): ClipTextConfig {
  const f = ConfigFields.of(json, source);
  const d = SD15_CLIP_TEXT_CONFIG;
  const config: ClipTextConfig = {
    vocabSize: f.positiveInt('vocab_size', d.vocabSize),
    hiddenSize: f.positiveInt('hidden_size', d.hiddenSize),
    intermediateSize: f.positiveInt('intermediate_size', d.intermediateSize),
    heads: f.positiveInt('num_attention_heads', d.heads),
    layers: f.positiveInt('num_hidden_layers', d.layers),
    maxPositions: f.positiveInt('max_position_embeddings', d.maxPositions),
    eps: f.number('layer_norm_eps', d.eps),
    activation: f.choice('hidden_act', ['quick_gelu', 'gelu'] as const, d.activation),
    bosTokenId: f.int('bos_token_id', d.bosTokenId),
    eosTokenId: f.int('eos_token_id', d.eosTokenId),
    padTokenId: f.int('pad_token_id', d.padTokenId),
  };
  checkClipTextConfig(config, source);
  return config;
}

export function checkClipTextConfig(c: ClipTextConfig, source: string): void {
  if (c.hiddenSize % c.heads !== 0) {
    throw new Error(`${source}: text encoder hidden size ${c.hiddenSize} does not split into ${c.heads} heads`);
  }
}

export interface ClipInferenceOptions {
  /**
   * Attention heads. Default: hidden size / 64 (CLIP's head width: 768 → 12 for SD 1.5); a hidden
   * size that is not a multiple of 64 cannot be guessed, and inference throws asking for this.
   */
  readonly heads?: number;
  /** Defaults for what shapes cannot tell (activation, eps, token ids); SD 1.5's unless given. */
  readonly defaults?: ClipTextConfig;
}

/** Builds a config from the weights' shapes (names without `text_model.`). */
export function inferClipTextConfig(weights: ShapeIndex, options: ClipInferenceOptions = {}): ClipTextConfig {
  const d = options.defaults ?? SD15_CLIP_TEXT_CONFIG;
  const shapeOf = (name: string): readonly number[] => {
    if (!weights.has(name)) throw new Error(`cannot infer the text encoder config: the checkpoint has no ${name}`);
    return weights.shape(name);
  };
  const [vocabSize, hiddenSize] = shapeOf('embeddings.token_embedding.weight') as [number, number];
  let heads = options.heads;
  if (heads === undefined) {
    if (hiddenSize % CLIP_HEAD_DIM !== 0) {
      throw new Error(
        `cannot infer the text encoder's attention heads: hidden size ${hiddenSize} is not a multiple of ` +
          `CLIP's head width ${CLIP_HEAD_DIM}; give the head count (textEncoderHeads) or a config folder (configFrom)`,
      );
    }
    heads = hiddenSize / CLIP_HEAD_DIM;
  }
  const config: ClipTextConfig = {
    ...d,
    vocabSize,
    hiddenSize,
    intermediateSize: shapeOf('encoder.layers.0.mlp.fc1.weight')[0]!,
    heads,
    layers: countIndices(weights.names(), /^encoder\.layers\.(\d+)\./),
    maxPositions: shapeOf('embeddings.position_embedding.weight')[0]!,
  };
  checkClipTextConfig(config, 'text encoder config inferred from weight shapes');
  return config;
}

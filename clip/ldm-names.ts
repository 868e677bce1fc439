// Text encoder names. Single-file SD 1.x checkpoints store transformers' CLIPTextModel state dict
// under `cond_stage_model.transformer.`, with or without its `text_model.` level depending on the
// transformers version that wrote it (v1-5-pruned-emaonly has `text_model.`; the tiny fixture
// does not). diffusers folders vary the same way (transformers 5 drops the level). The model uses
// the names WITHOUT `text_model.` (see clipTextParameterShapes), so both spellings map there.

import type { MappedKey } from '../runtime/weights.js';

export const LDM_CLIP_PREFIX = 'cond_stage_model.transformer.';

const TEXT_MODEL = 'text_model.';

/**
 * KeyMapping for text encoder keys (the LDM prefix already removed, or a text_encoder/ file):
 * drops `text_model.`, and drops `embeddings.position_ids`, an integer buffer (0..76) that older
 * transformers saved with the weights and that the model recomputes.
 */
export function clipTextMapping(key: string): MappedKey | 'drop' {
  const name = key.startsWith(TEXT_MODEL) ? key.slice(TEXT_MODEL.length) : key;
  if (name === 'embeddings.position_ids') return 'drop';
  return { name };
}

// Every conformance part, in the order they run. A new part (the pipeline, token merging) is one
// entry here; until it exists, the golden tensors it would compare are reported as skipped.

import { tokenizerPart } from './tokenizer.js';
import { textEncoderPart } from './text-encoder.js';
import { unetPart } from './unet.js';
import { vaePart } from './vae.js';
import { schedulerPart } from './scheduler.js';
import { singleFilePart } from './single-file.js';
import { pipelinePart } from './pipeline.js';
import type { ConformancePart } from './types.js';

export const CONFORMANCE_PARTS: readonly ConformancePart[] = [
  tokenizerPart,
  textEncoderPart,
  unetPart,
  vaePart,
  schedulerPart,
  singleFilePart,
  pipelinePart,
];

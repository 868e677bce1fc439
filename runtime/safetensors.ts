// Safetensors checkpoints: header validation, streaming reads into GPU tensors, atomic writes.
export {
  SafetensorsError,
  DTYPE_BYTES,
  isSafetensorsDType,
  type SafetensorsDType,
  type TensorEntry,
} from './safetensors-header.js';
export { SafetensorsFile, type OpenOptions } from './safetensors-reader.js';
export {
  writeSafetensors,
  writeSafetensorsStreaming,
  type TensorToWrite,
  type TensorToStream,
  type TensorChunk,
  type ZeroRun,
} from './safetensors-writer.js';

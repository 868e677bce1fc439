export { Runtime, type Dispatch, type Workgroups } from './runtime/runtime.js';
export { Tensor } from './runtime/tensor.js';
export type { DType, FloatDType } from './runtime/dtype.js';
export { createGpu, describeGpu, NoAdapterError, type Gpu, type GpuFeatures, type GpuOptions } from './runtime/gpu.js';
export { setGpuWaitMode, gpuWaitMode, type GpuWaitMode } from './runtime/gpu-wait.js';

// The pipeline: load a model, generate images.
export {
  StableDiffusion,
  type StableDiffusionLoadOptions,
  type GenerateOptions,
  type GeneratedImage,
  type GenerationResult,
  type ResolvedSettings,
  type StageTimings,
} from './pipeline/stable-diffusion.js';
export { AbortError, type StepInspector } from './pipeline/generate.js';
export { ProgressReporter, type Progress, type ProgressCallback, type ProgressStage } from './pipeline/progress.js';
export { MERGE_METHODS, type MergeMethod, type MergeOption, type MergeOptions } from './pipeline/merge.js';
export type { ModelInfo } from './pipeline/load.js';
export type { RgbImage } from './pipeline/image.js';
export { encodePng, readPngText, writeFileAtomic } from './pipeline/png.js';
export { parametersText, outputPaths, SAMPLER_NAMES } from './pipeline/metadata.js';
export { TorchGenerator } from './pipeline/torch-generator.js';
export { SCHEDULER_KINDS, type SchedulerKind } from './scheduler/types.js';
export type { AttentionPlugin } from './unet/hooks.js';
export { unetFlops, type UNetFlops } from './unet/flops.js';

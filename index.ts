export { Runtime, type Dispatch, type Workgroups } from './runtime/runtime.js';
export { Tensor } from './runtime/tensor.js';
export type { DType } from './runtime/dtype.js';
export { createGpu, describeGpu, NoAdapterError, type Gpu, type GpuFeatures, type GpuOptions } from './runtime/gpu.js';

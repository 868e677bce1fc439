import { parseCandidates, type KernelCandidate } from '../../runtime/candidates.js';
import type { Runtime } from '../../runtime/runtime.js';

/**
 * A stand-in for an H100-like device (16x16x16 f16 subgroup matrices, 48 KiB of workgroup memory,
 * a GPU compiler): the choosers and source generators read only its features, limits, adapter and
 * candidates, so tests show what they produce there on a machine without one.
 */
export function matrixDevice(candidates: readonly KernelCandidate[] = []): Runtime {
  return {
    features: {
      f16: true,
      subgroups: true,
      subgroupMatrix: true,
      subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }],
    },
    device: {
      limits: {
        maxComputeWorkgroupStorageSize: 49152,
        maxStorageBufferBindingSize: 2 ** 31,
        maxComputeInvocationsPerWorkgroup: 1024,
        maxComputeWorkgroupsPerDimension: 65535,
      },
    },
    gpu: { adapterInfo: { vendor: 'nvidia', architecture: '', device: '', description: 'NVIDIA H100 80GB HBM3' } },
    candidates: parseCandidates(candidates),
  } as unknown as Runtime;
}

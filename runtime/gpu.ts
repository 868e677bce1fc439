import { create, globals } from 'webgpu';
import { installGpuWait } from './gpu-wait.js';

/** What the adapter gave us; kernels pick their variant from this, never from the adapter directly. */
export interface GpuFeatures {
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly subgroupMatrix: boolean;
  readonly timestampQuery: boolean;
  /** Subgroup-matrix shapes the adapter supports (empty without the feature). */
  readonly subgroupMatrixConfigs: readonly SubgroupMatrixConfig[];
}

export interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

export interface GpuOptions {
  /**
   * Force the portable path: no shader-f16, no subgroups, no subgroup matrices. Also set by
   * WEBGPU_DIFFUSION_PLAIN=1, so both paths stay testable on one machine.
   */
  readonly plain?: boolean;
  /** Override individual features off (true keeps what the adapter offers). */
  readonly allowF16?: boolean;
  readonly allowSubgroupMatrix?: boolean;
}

export interface Gpu {
  readonly device: GPUDevice;
  readonly adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  readonly features: GpuFeatures;
  readonly limits: GPUSupportedLimits;
  destroy(): void;
}

// Dawn hides shader-f16 on NVIDIA's Vulkan driver and the subgroup-matrix extension behind toggles,
// and coarsens timestamp queries (a browser's timing-attack guard) unless told not to.
const DAWN_TOGGLES = ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia', 'disable-dawn-features=timestamp_quantization'];
const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

export class NoAdapterError extends Error {
  constructor() {
    super(
      'No WebGPU adapter found. Dawn needs a Vulkan driver: on a machine without a GPU install Mesa\'s ' +
        'lavapipe (Debian 12: `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`, or run ' +
        '`bash scripts/install-vulkan-driver.sh` as root); on a GPU machine install the vendor\'s Vulkan driver and the ' +
        'Vulkan loader (libvulkan1).',
    );
    this.name = 'NoAdapterError';
  }
}

let installedGlobals = false;

// dawn.node tears its instance down when the navigator.gpu object is garbage-collected, even while
// devices made from it live on; the next event-loop poll then aborts natively ("The futex facility
// returned an unexpected error code", "std::system_error: Invalid argument"). Instances are therefore
// held here for the life of the process.
const liveInstances: unknown[] = [];

function envFlag(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** Creates the one device a process uses; every tensor and kernel hangs off it. */
export async function createGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (!installedGlobals) {
    // dawn.node needs its GPU* classes (GPUBufferUsage, ...) on globalThis.
    Object.assign(globalThis, globals);
    installGpuWait();
    installedGlobals = true;
  }
  const plain = options.plain ?? envFlag('WEBGPU_DIFFUSION_PLAIN');
  const navigatorGpu = create(DAWN_TOGGLES);
  liveInstances.push(navigatorGpu);
  const adapter = await navigatorGpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoAdapterError();

  const offered = new Set<string>(adapter.features as unknown as Iterable<string>);
  const wantF16 = !plain && (options.allowF16 ?? true) && offered.has('shader-f16');
  const wantSubgroups = !plain && offered.has('subgroups');
  const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: SubgroupMatrixConfig[] };
  // dawn.node exposes these as prototype getters, so copy the fields by name.
  const configs = (info.subgroupMatrixConfigs ?? []).map((c) => ({
    componentType: c.componentType,
    resultComponentType: c.resultComponentType,
    M: c.M,
    N: c.N,
    K: c.K,
  }));
  const wantMatrix =
    wantF16 && (options.allowSubgroupMatrix ?? true) && offered.has(SUBGROUP_MATRIX) && configs.length > 0;
  const wantTimestamp = offered.has('timestamp-query');

  const required: string[] = [];
  if (wantF16) required.push('shader-f16');
  if (wantSubgroups) required.push('subgroups');
  if (wantMatrix) required.push(SUBGROUP_MATRIX);
  if (wantTimestamp) required.push('timestamp-query');

  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: required as GPUFeatureName[],
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const has = (f: string) => device.features.has(f);
  return {
    device,
    adapterInfo: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
    },
    features: {
      f16: has('shader-f16'),
      subgroups: has('subgroups'),
      subgroupMatrix: has(SUBGROUP_MATRIX),
      timestampQuery: has('timestamp-query'),
      subgroupMatrixConfigs: has(SUBGROUP_MATRIX) ? configs : [],
    },
    limits: device.limits,
    destroy: () => device.destroy(),
  };
}

export function describeGpu(gpu: Gpu): string {
  const f = gpu.features;
  const on = (b: boolean) => (b ? 'yes' : 'no');
  const a = gpu.adapterInfo;
  return (
    `${a.description || a.device || a.vendor || 'unknown adapter'}${a.device && a.description && a.device !== a.description ? ` [${a.device}]` : ''} (${a.vendor}/${a.architecture}); ` +
    `shader-f16 ${on(f.f16)}, subgroups ${on(f.subgroups)}, subgroup-matrix ${on(f.subgroupMatrix)}` +
    (f.subgroupMatrix
      ? ` [${f.subgroupMatrixConfigs.map((c) => `${c.M}x${c.N}x${c.K} ${c.componentType}->${c.resultComponentType}`).join(', ')}]`
      : '') +
    `; max storage binding ${(gpu.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB, ` +
    `max buffer ${(gpu.limits.maxBufferSize / 2 ** 20).toFixed(0)} MiB, ` +
    `workgroup storage ${gpu.limits.maxComputeWorkgroupStorageSize} B`
  );
}

// Prints what the WebGPU adapter offers: features the runtime uses, subgroup-matrix configs, limits.
import { createGpu, describeGpu, NoAdapterError } from '../runtime/gpu.js';

if (process.argv.includes('--help')) {
  console.log('usage: node scripts/device-info.js [--plain]\nPrints the adapter, the features the runtime will use and its limits.\n  --plain  ask for the portable path (no f16, no subgroup matrices)');
  process.exit(0);
}
try {
  const gpu = await createGpu({ plain: process.argv.includes('--plain') });
  console.log(describeGpu(gpu));
  gpu.destroy();
} catch (e) {
  console.error(e instanceof NoAdapterError ? e.message : `could not create a WebGPU device: ${(e as Error).message}`);
  process.exit(1);
}

import { Runtime } from '../../runtime/runtime.js';

let shared: Promise<Runtime> | null = null;

/** One runtime per test process; the plain path when WEBGPU_DIFFUSION_PLAIN is set. */
export function testRuntime(): Promise<Runtime> {
  return (shared ??= Runtime.create());
}

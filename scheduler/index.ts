// The denoising schedulers the pipeline can use, each matching its diffusers counterpart.

import { assertSupported, resolveSchedulerConfig, type SchedulerConfig } from './config.js';
import { DdimScheduler } from './ddim.js';
import { DpmSolverScheduler } from './dpm-solver.js';
import { EulerScheduler } from './euler.js';
import { PlmsScheduler } from './pndm.js';
import { SCHEDULER_KINDS, type Scheduler, type SchedulerKind } from './types.js';

export * from './types.js';
export * from './config.js';
export { alphasCumprod } from './betas.js';

/** A fresh scheduler for one sampling run of `steps` inference steps. */
export function createScheduler(kind: SchedulerKind, steps: number, config: Partial<SchedulerConfig> = {}): Scheduler {
  const c = resolveSchedulerConfig(config);
  assertSupported(c, kind);
  switch (kind) {
    case 'plms':
      return new PlmsScheduler(c, steps);
    case 'ddim':
      return new DdimScheduler(c, steps);
    case 'euler':
      return new EulerScheduler(c, steps);
    case 'dpmpp-2m':
      return new DpmSolverScheduler(c, steps);
    default:
      throw new Error(`unknown scheduler ${JSON.stringify(kind)} (known: ${SCHEDULER_KINDS.join(', ')})`);
  }
}

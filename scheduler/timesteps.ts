// U-Net timesteps per scheduler family, following each diffusers set_timesteps() including its
// numpy rounding (half to even) and float64/float32 choices.

import type { SchedulerConfig } from './config.js';
import { f32, npArange, npLinspace, roundHalfEven } from './numeric.js';

function checkSteps(config: SchedulerConfig, steps: number, who: string): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > config.numTrainTimesteps) {
    throw new Error(`${who}: steps must be an integer in [1, ${config.numTrainTimesteps}], got ${steps}`);
  }
}

function checkRange(config: SchedulerConfig, ts: readonly number[], who: string): number[] {
  const bad = ts.find((t) => !(t >= 0 && t <= config.numTrainTimesteps - 1));
  if (bad !== undefined) {
    throw new Error(`${who}: timestep ${bad} outside [0, ${config.numTrainTimesteps - 1}] (steps_offset ${config.stepsOffset})`);
  }
  return [...ts];
}

/**
 * The descending grid DDIM, PNDM and Euler share for each spacing; they differ only in how a
 * 'linspace' point is rounded (to an integer, or to float32 for Euler's fractional timesteps).
 */
function descendingGrid(config: SchedulerConfig, steps: number, roundLinspace: (t: number) => number): number[] {
  const T = config.numTrainTimesteps;
  switch (config.timestepSpacing) {
    case 'linspace':
      return npLinspace(0, T - 1, steps).map(roundLinspace).reverse();
    case 'leading': {
      const ratio = Math.floor(T / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio + config.stepsOffset).reverse();
    }
    case 'trailing':
      return npArange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
  }
}

/** DDIMScheduler: descending integer timesteps. */
export function ddimTimesteps(config: SchedulerConfig, steps: number): number[] {
  checkSteps(config, steps, 'ddim');
  return checkRange(config, descendingGrid(config, steps, roundHalfEven), 'ddim');
}

/**
 * PNDMScheduler with skip_prk_steps: the ascending grid, its second-to-last entry repeated, then
 * reversed, so the first timestep is evaluated twice (steps + 1 evaluations).
 */
export function plmsTimesteps(config: SchedulerConfig, steps: number): number[] {
  checkSteps(config, steps, 'plms');
  const grid = descendingGrid(config, steps, roundHalfEven).reverse();
  const ts = [...grid.slice(0, -1), ...grid.slice(-2, -1), ...grid.slice(-1)].reverse();
  return checkRange(config, ts, 'plms');
}

/** EulerDiscreteScheduler: descending float32 timesteps (fractional for 'linspace'). */
export function eulerTimesteps(config: SchedulerConfig, steps: number): number[] {
  checkSteps(config, steps, 'euler');
  return checkRange(config, descendingGrid(config, steps, f32), 'euler');
}

/**
 * DPMSolverMultistepScheduler: steps + 1 grid points with the last (t = 0 end) dropped. With
 * lambda_min_clipped = −inf the grid spans all train timesteps.
 */
export function dpmSolverTimesteps(config: SchedulerConfig, steps: number): number[] {
  checkSteps(config, steps, 'dpm-solver');
  const T = config.numTrainTimesteps;
  let ts: number[];
  switch (config.timestepSpacing) {
    case 'linspace':
      ts = npLinspace(0, T - 1, steps + 1).map(roundHalfEven).reverse().slice(0, -1);
      break;
    case 'leading': {
      const ratio = Math.floor(T / (steps + 1));
      ts = Array.from({ length: steps + 1 }, (_, i) => i * ratio)
        .reverse()
        .slice(0, -1)
        .map((t) => t + config.stepsOffset);
      break;
    }
    case 'trailing':
      ts = npArange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
      break;
  }
  return checkRange(config, ts, 'dpm-solver');
}

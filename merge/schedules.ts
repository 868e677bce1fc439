// CA-ToMe's checkpoint schedules (Saghatchian et al., Table II): the U-Net evaluations at which the
// merge pairs are recomputed; between them every block reuses its cached pairs. Indices count U-Net
// evaluations from 0 (PLMS makes 51 for 50 steps, hence entries up to 51).

export const CA_TOME_SCHEDULES = {
  CONFIG_1: [0, 1, 2, 3, 5, 10, 15, 25, 35],
  CONFIG_2: [0, 10, 11, 12, 15, 20, 25, 30, 35, 45],
  /** The paper's best-performing configuration. */
  CONFIG_3: [0, 8, 11, 13, 20, 25, 30, 35, 45, 46, 47, 48, 49],
  CONFIG_4: [0, 9, 13, 14, 15, 28, 29, 32, 36, 45],
  ADAPTIVE: [0, 1, 5, 7, 10, 12, 15, 35, 40, 45, 46, 47, 48, 49, 50, 51],
  FIVE: [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
} as const satisfies Record<string, readonly number[]>;

export type CaToMeSchedule = keyof typeof CA_TOME_SCHEDULES;

/** The checkpoint evaluations of a preset or an explicit list. */
export function checkpointSteps(schedule: CaToMeSchedule | readonly number[]): ReadonlySet<number> {
  const steps = typeof schedule === 'string' ? CA_TOME_SCHEDULES[schedule] : schedule;
  if (!steps) throw new Error(`catome: unknown schedule ${String(schedule)} (one of ${Object.keys(CA_TOME_SCHEDULES).join(', ')})`);
  for (const s of steps) if (!Number.isInteger(s) || s < 0) throw new Error(`catome: checkpoint ${s} must be a non-negative integer`);
  return new Set(steps);
}

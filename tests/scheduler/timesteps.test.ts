import t from 'tap';
import { resolveSchedulerConfig, schedulerConfigFromJson } from '../../scheduler/config.js';
import { EulerScheduler } from '../../scheduler/euler.js';
import { createScheduler } from '../../scheduler/index.js';
import { ddimTimesteps, dpmSolverTimesteps, eulerTimesteps, plmsTimesteps } from '../../scheduler/timesteps.js';
import { npArange, roundHalfEven } from '../../scheduler/numeric.js';

// Expected values from the numpy expressions of diffusers' set_timesteps (numpy 2.4), 7 steps:
// odd enough for half-way roundings (832.5 → 832, 499.5 → 500) and fractional Euler timesteps.
const NUMPY_7_STEPS = {
  ddim_linspace: [999, 832, 666, 500, 333, 166, 0],
  ddim_trailing: [999, 856, 713, 570, 428, 285, 142],
  plms_linspace: [999, 832, 832, 666, 500, 333, 166, 0],
  plms_trailing: [999, 856, 856, 713, 570, 428, 285, 142],
  euler_linspace: [999, 832.5, 666, 499.5, 333, 166.5, 0],
  euler_trailing: [999, 856, 713, 570, 428, 285, 142],
  dpm_linspace: [999, 856, 714, 571, 428, 285, 143],
  dpm_trailing: [999, 856, 713, 570, 428, 285, 142],
};
// np.interp of the train sigmas at euler_linspace, as float32
const EULER_LINSPACE_7_SIGMAS = [14.614646911621094, 5.948918342590332, 2.9183084964752197, 1.6155834197998047, 0.9323583245277405, 0.4935535192489624, 0.029167532920837402];

t.test('numpy helpers', async (t) => {
  t.same([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
  t.same(npArange(10, 0, -2.5), [10, 7.5, 5, 2.5]);
});

t.test('linspace and trailing spacings match numpy', async (t) => {
  for (const spacing of ['linspace', 'trailing'] as const) {
    const c = resolveSchedulerConfig({ timestepSpacing: spacing });
    t.same(ddimTimesteps(c, 7), NUMPY_7_STEPS[`ddim_${spacing}`], `ddim ${spacing}`);
    t.same(plmsTimesteps(c, 7), NUMPY_7_STEPS[`plms_${spacing}`], `plms ${spacing}`);
    t.same(eulerTimesteps(c, 7), NUMPY_7_STEPS[`euler_${spacing}`], `euler ${spacing}`);
    t.same(dpmSolverTimesteps(c, 7), NUMPY_7_STEPS[`dpm_${spacing}`], `dpm ${spacing}`);
  }
  const euler = new EulerScheduler(resolveSchedulerConfig({ timestepSpacing: 'linspace' }), 7);
  EULER_LINSPACE_7_SIGMAS.forEach((s, i) => t.ok(Math.abs(euler.sigmas[i]! - s) <= 1e-6 * s, `euler sigma ${i}: ${euler.sigmas[i]} vs ${s}`));
  t.equal(euler.sigmas[7], 0);
  t.equal(euler.initNoiseSigma, euler.sigmas[0], "'linspace' starts from sigma_max itself");
});

t.test('config parsing and errors', async (t) => {
  const parsed = schedulerConfigFromJson({
    _class_name: 'PNDMScheduler',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    num_train_timesteps: 1000,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
  });
  t.same(resolveSchedulerConfig(parsed), resolveSchedulerConfig());
  t.throws(() => createScheduler('plms', 20, schedulerConfigFromJson({ prediction_type: 'v_prediction' })), /prediction_type/);
  const karras = schedulerConfigFromJson({ use_karras_sigmas: true, lambda_min_clipped: '-Infinity' });
  t.throws(() => createScheduler('dpmpp-2m', 20, karras), /use_karras_sigmas/);
  t.doesNotThrow(() => createScheduler('plms', 20, karras).dispose(), 'a key PLMS does not have is ignored, as from_config does');
  t.throws(() => schedulerConfigFromJson({ timestep_spacing: 'karras' }), /timestep_spacing/);
  t.throws(() => ddimTimesteps(resolveSchedulerConfig(), 0), /steps must be/);
  t.throws(() => ddimTimesteps(resolveSchedulerConfig(), 1000), /outside/, 'leading + steps_offset past the last train step');
});

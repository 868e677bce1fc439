import t from 'tap';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { add } from '../../kernels/binary.js';
import { GPU_WAIT_ENV, gpuWaitStats, withGpuWaitMode } from '../../runtime/gpu-wait.js';
import { fromRoot } from '../../runtime/paths.js';
import { testRuntime } from '../support/runtime.js';
import type { Runtime } from '../../runtime/runtime.js';

const execFileAsync = promisify(execFile);

/** Records tens of milliseconds of GPU work (on lavapipe) and waits for it; returns ticks and time. */
async function timedWait(rt: Runtime): Promise<{ ticks: number; deferred: number; ms: number }> {
  const x = rt.upload(new Float32Array(1 << 20).fill(1), [1 << 20]);
  let acc = rt.keep(add(rt, x, x));
  for (let i = 0; i < 40; i++) {
    const next = rt.keep(add(rt, acc, x));
    acc.dispose();
    acc = next;
  }
  const before = gpuWaitStats();
  const t0 = performance.now();
  await rt.sync();
  const ms = performance.now() - t0;
  const after = gpuWaitStats();
  acc.dispose();
  x.dispose();
  const deferred = after.deferred - before.deferred;
  return { ticks: after.immediate - before.immediate + deferred, deferred, ms };
}

t.test('a GPU wait sleeps between dawn.node ticks instead of spinning, unless told to spin', async (t) => {
  const rt = await testRuntime();
  await timedWait(rt); // pipelines compiled outside the measured waits
  const sleeping = await timedWait(rt);
  t.ok(sleeping.deferred > 0, `dawn.node's ticks are recognised and deferred (${sleeping.deferred} in ${sleeping.ms.toFixed(1)} ms)`);
  t.ok(sleeping.ticks <= sleeping.ms + 3, `about one tick per millisecond at most (${sleeping.ticks} in ${sleeping.ms.toFixed(1)} ms)`);
  const spinning = await withGpuWaitMode('spin', () => timedWait(rt));
  t.equal(spinning.deferred, 0, 'spin mode defers nothing');
  t.ok(spinning.ticks / spinning.ms > 3 * (sleeping.ticks / sleeping.ms), `spin mode ticks far more often (${spinning.ticks} in ${spinning.ms.toFixed(1)} ms)`);
});

t.test('other setImmediate callers get the original behaviour', async (t) => {
  await testRuntime();
  let ran = false;
  const handle = setImmediate(() => (ran = true));
  t.equal(handle.constructor.name, 'Immediate', 'a real Immediate');
  clearImmediate(handle);
  const bound = function (this: { hit: boolean }) { this.hit = true; }.bind({ hit: false });
  t.equal(setImmediate(bound).constructor.name, 'Immediate', 'bound functions are not taken for dawn.node\'s tick');
  t.equal(await promisify(setImmediate)('value'), 'value', 'util.promisify(setImmediate) still works');
  t.notOk(ran, 'clearImmediate cancels it');
});

t.test(`${GPU_WAIT_ENV} sets the mode for the process, and a bad value is refused`, async (t) => {
  const script = `const { Runtime } = await import(${JSON.stringify(fromRoot('dist', 'runtime', 'runtime.js'))});
const { gpuWaitMode } = await import(${JSON.stringify(fromRoot('dist', 'runtime', 'gpu-wait.js'))});
try { const rt = await Runtime.create(); console.log('mode', gpuWaitMode()); rt.destroy(); } catch (e) { console.log('error', e.message); }`;
  const run = async (value: string) => {
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, [GPU_WAIT_ENV]: value } });
    return stdout.trim().split('\n').pop();
  };
  t.equal(await run('spin'), 'mode spin');
  t.match(await run('busy'), /^error .*WEBGPU_DIFFUSION_GPU_WAIT.* must be 'sleep' or 'spin', not busy/);
});

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fromRoot } from '../../runtime/paths.js';

const run = (...args: string[]) => spawnSync(process.execPath, [fromRoot('scripts', 'bench-kernels.js'), ...args], { encoding: 'utf8' });

t.test('bench-kernels: --exclude leaves out what --filter let in', async (t) => {
  const help = run('--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /--exclude TEXT/);
  const none = run('--filter', 'matmul 4096', '--exclude', 'matmul');
  t.not(none.status, 0, 'nothing left to time is an error');
  t.match(none.stderr, /no benchmark matches/);
});

t.test('bench-kernels: --gpu-time adds the kernel time from GPU timestamps', async (t) => {
  const out = run('--filter', 'add 2x320x64x64', '--dtype', 'f32', '--gpu-time', '--json');
  t.equal(out.status, 0, out.stderr);
  const line = JSON.parse(out.stdout.trim().split('\n')[0]!) as { ms: number; gpuMs?: number; gpuGbps?: number };
  t.ok(line.ms > 0);
  t.ok(line.gpuMs !== undefined && line.gpuMs > 0 && line.gpuGbps! > 0, `gpu time ${line.gpuMs} ms`);
});

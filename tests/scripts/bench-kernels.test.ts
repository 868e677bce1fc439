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

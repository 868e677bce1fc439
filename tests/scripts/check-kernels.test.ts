import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fromRoot } from '../../runtime/paths.js';

const run = (...args: string[]) => spawnSync(process.execPath, [fromRoot('scripts', 'check-kernels.js'), ...args], { encoding: 'utf8' });

t.test('check-kernels compares the fast path with the f32 reference and says so', async (t) => {
  const help = run('--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /usage: node scripts\/check-kernels\.js/);

  const ok = run('--filter', 'matmul 512x512x512', '--filter', 'counted q777');
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /^ok +matmul 512x512x512 +error \d/m);
  t.match(ok.stdout, /^ok +attention self B2xH8 1000x1000 d40 counted q777 k613 +error \d/m);
  t.match(ok.stdout, /2\/2 checks within tolerance/);

  const none = run('--filter', 'no such kernel');
  t.equal(none.status, 1);
  t.match(none.stderr, /no check matches the filter/);
});

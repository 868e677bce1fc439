import t from 'tap';
import { add } from '../../kernels/binary.js';
import { testRuntime } from '../support/runtime.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';

const STORAGE = 0x80 | 0x4 | 0x8;

t.test('a replay hands out the buffers the previous replay got, in order, where they are free', async (t) => {
  const rt = await testRuntime();
  const pool = rt.pool;
  const first = [pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE)];
  for (const b of first) pool.release(b);
  pool.beginReplay('loop');
  const a = [pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE)];
  pool.endReplay();
  t.same(a, [first[2], first[1], first[0]], 'the first replay takes the free lists as they come (last freed first)');
  // Released in another order, plain reuse would hand them out reversed; the replay restores it.
  for (const b of a) pool.release(b);
  pool.beginReplay('loop');
  const b = [pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE)];
  pool.endReplay();
  t.same(b, a, 'the same buffers at the same positions');
  // A position whose buffer is still in use takes a free one no later position asks for, so the
  // others keep their places.
  const spare = pool.acquire(1024, STORAGE);
  for (const x of [spare, b[0]!, b[2]!]) pool.release(x);
  pool.beginReplay('loop');
  const c = [pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE), pool.acquire(1024, STORAGE)];
  pool.endReplay();
  t.equal(c[0], b[0], 'position 0 free again: same buffer');
  t.not(c[1], b[1], 'position 1 is still held: another buffer');
  t.equal(c[1], spare, 'position 1 takes the spare, not position 2\'s buffer from the top of the list');
  t.equal(c[2], b[2], 'position 2 free again: same buffer');
  for (const x of [...c, b[1]!]) pool.release(x);
});

t.test('replays do not nest, and an iteration that throws keeps the previous order', async (t) => {
  const rt = await testRuntime();
  t.throws(
    () => rt.iteration('outer', () => rt.iteration('inner', () => 0)),
    /buffer pool: replay "inner" started inside replay "outer"/,
  );
  const first = rt.iteration('step', () => rt.empty([256]));
  const wanted = first.buffer;
  first.dispose();
  const hold = rt.empty([256]); // takes `wanted`, so the failing iteration gets another buffer
  let failed: Tensor | undefined;
  t.throws(
    () =>
      rt.iteration('step', () => {
        failed = rt.keep(rt.empty([256]));
        throw new Error('boom');
      }),
    /boom/,
  );
  t.not(failed!.buffer, wanted);
  hold.dispose();
  failed!.dispose(); // now on top of the free list
  const again = rt.iteration('step', () => rt.empty([256]));
  t.equal(again.buffer, wanted, 'matched to the last completed iteration, not the failed one');
  again.dispose();
});

/**
 * A loop like the denoising one: each iteration computes from inputs and a history of earlier
 * results that rotates (a scheduler's), so plain LIFO reuse puts the same work on other buffers.
 */
async function rotatingLoop(rt: Runtime, replay: boolean): Promise<{ created: number[]; values: number[] }> {
  const x = rt.upload([1, 2, 3, 4], [4]);
  const history: Tensor[] = [];
  const created: number[] = [];
  for (let i = 0; i < 8; i++) {
    const before = rt.bindGroupsCreated;
    const body = () =>
      rt.tidy(() => {
        const a = add(rt, x, x);
        const b = add(rt, a, history[0] ?? x);
        return add(rt, b, history[1] ?? x);
      });
    const next = replay ? rt.iteration('rotating loop', body) : body();
    history.unshift(next);
    if (history.length > 3) history.pop()!.dispose();
    created.push(rt.bindGroupsCreated - before);
    rt.flush();
  }
  const values = [...(await rt.read(history[0]!))];
  for (const h of [...history, x]) h.dispose();
  return { created, values };
}

t.test('a repeated iteration on rotating history finds its bind groups cached; results unchanged', async (t) => {
  const rt = await testRuntime();
  const replayed = await rotatingLoop(rt, true);
  const plain = await rotatingLoop(rt, false);
  t.same(replayed.values, plain.values, 'same results either way');
  t.same(replayed.values, [163, 326, 489, 652]); // 163x: each result is 2x plus the two before it
  const sum = (c: number[]) => c.reduce((s, n) => s + n, 0);
  t.same(replayed.created.slice(-2), [0, 0], `no new bind groups once each rotation is cached (per iteration: ${replayed.created.join(', ')})`);
  t.ok(sum(replayed.created) < sum(plain.created), `fewer than without replays (${plain.created.join(', ')})`);
});

import t from 'tap';
import { add } from '../../kernels/binary.js';
import { testRuntime } from '../support/runtime.js';

t.test('identical dispatches reuse their bind group; other buffers get a new one, results stay right', async (t) => {
  const rt = await testRuntime();
  const a = rt.upload([1, 2, 3], [3]);
  const b = rt.upload([10, 20, 30], [3]);
  /** Records one add in a command buffer of its own (so its uniforms sit at the start of a chunk), reads and frees it. */
  const run = async (x = a, y = b) => {
    rt.flush();
    const before = rt.bindGroupsCreated;
    const out = add(rt, x, y);
    const created = rt.bindGroupsCreated - before;
    const values = [...(await rt.read(out))];
    out.dispose();
    return { created, values };
  };
  t.same(await run(), { created: 1, values: [11, 22, 33] });
  t.same(await run(), { created: 0, values: [11, 22, 33] }, 'same pipeline, buffers, offsets: reused');
  t.same(await run(b, a), { created: 1, values: [11, 22, 33] }, 'operands bound the other way round: a new group');
  const c = rt.upload([5, 5, 5], [3]);
  t.same(await run(a, c), { created: 1, values: [6, 7, 8] }, 'another buffer: a new group');
  for (const x of [a, b, c]) x.dispose();
});

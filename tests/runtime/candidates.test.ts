import t from 'tap';
import { CANDIDATES_ENV, KERNEL_CANDIDATES, parseCandidates } from '../../runtime/candidates.js';
import { Runtime } from '../../runtime/runtime.js';

t.test('kernel candidates parse from a comma-separated list and refuse unknown names', async (t) => {
  t.same([...parseCandidates(undefined)], []);
  t.same([...parseCandidates('')], []);
  t.same([...parseCandidates(' gemm-split-warps , ')], ['gemm-split-warps']);
  t.same([...parseCandidates(['gemm-split-warps'])], ['gemm-split-warps']);
  t.throws(() => parseCandidates('gemm-split-warps,gemm-fast'), new RegExp(`${CANDIDATES_ENV}: unknown kernel candidate 'gemm-fast' \\(known: ${KERNEL_CANDIDATES.join(', ')}\\)`));
  await t.rejects(Runtime.create({ candidates: ['nope' as never] }), /candidates: unknown kernel candidate 'nope'/, 'refused before a device is made');
});

t.test('a runtime carries its candidates and names them in its description', async (t) => {
  const rt = await Runtime.create({ candidates: ['gemm-split-warps'] });
  t.ok(rt.candidates.has('gemm-split-warps'));
  t.match(rt.describe(), /; kernel candidates: gemm-split-warps$/);
  rt.destroy();
  const plain = await Runtime.create({ candidates: [] });
  t.equal(plain.candidates.size, 0);
  t.notMatch(plain.describe(), /kernel candidates/);
  plain.destroy();
});

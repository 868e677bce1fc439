import t from 'tap';
import { CANDIDATES_ENV, KERNEL_CANDIDATES, parseCandidates } from '../../runtime/candidates.js';
import { Runtime } from '../../runtime/runtime.js';

t.test('kernel candidates parse from a comma-separated list and refuse unknown names', async (t) => {
  t.same([...parseCandidates(undefined)], []);
  t.same([...parseCandidates('')], []);
  t.same([...parseCandidates(' attention-ring , gemm-memory,')], ['attention-ring', 'gemm-memory']);
  t.same([...parseCandidates(['gemm-memory'])], ['gemm-memory']);
  t.throws(() => parseCandidates('attention-ring,gemm-fast'), new RegExp(`${CANDIDATES_ENV}: unknown kernel candidate 'gemm-fast' \\(known: ${KERNEL_CANDIDATES.join(', ')}\\)`));
  await t.rejects(Runtime.create({ candidates: ['nope' as never] }), /candidates: unknown kernel candidate 'nope'/, 'refused before a device is made');
});

t.test('a runtime carries its candidates and names them in its description', async (t) => {
  const rt = await Runtime.create({ candidates: ['attention-ring'] });
  t.ok(rt.candidates.has('attention-ring'));
  t.notOk(rt.candidates.has('gemm-memory'));
  t.match(rt.describe(), /; kernel candidates: attention-ring$/);
  rt.destroy();
});

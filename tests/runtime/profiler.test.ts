import t from 'tap';
import { isMergeKernel, kernelFamily, totalsByFamily } from '../../runtime/profiler.js';
import { add } from '../../kernels/binary.js';
import { testRuntime } from '../support/runtime.js';

t.test('kernel families from pipeline labels', async (t) => {
  t.equal(kernelFamily('linear f16 nk a1b1o1i1 tc 64x64 k32 sg2x2 f16x16x16'), 'linear');
  t.equal(kernelFamily('attention mma 16x8x8 d40 f16'), 'attention');
  t.equal(kernelFamily('group_norm_apply_f16_f32_w4_silu'), 'group_norm_apply');
  t.equal(kernelFamily('merge-unmerge-add.wgsl_f16'), 'merge_unmerge_add');
  t.equal(kernelFamily('toma_select_c64'), 'toma_select');
  t.equal(kernelFamily('layer_norm_f32_f32_w4_t32_subgroup'), 'layer_norm');
  t.ok(['merge_best_match', 'merge_similarity', 'toma_assign', 'importance_map', 'bucket_sort_local'].every(isMergeKernel));
  t.notOk(isMergeKernel('linear') || isMergeKernel('attention'));
  const totals = totalsByFamily([
    { label: 'binary_add_f32', ns: 2e6 },
    { label: 'linear f32 x', ns: 5e6 },
    { label: 'binary_add_f16', ns: 1e6 },
  ]);
  t.same(totals, [
    { family: 'linear', calls: 1, ms: 5 },
    { family: 'binary_add', calls: 2, ms: 3 },
  ]);
});

t.test('a profile times every dispatch in recording order, across flushes', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.timestampQuery) {
    t.throws(() => rt.startProfile(), /timestamp-query/);
    return;
  }
  const a = rt.zeros([4096]);
  const b = rt.zeros([4096]);
  const outputs = [];
  rt.startProfile();
  t.throws(() => rt.startProfile(), /already open/);
  outputs.push(add(rt, a, b));
  rt.flush();
  outputs.push(add(rt, a, b), add(rt, a, b));
  const times = await rt.stopProfile();
  t.equal(times.length, 3);
  t.ok(times.every((k) => k.label === 'binary_add_f32' && Number.isFinite(k.ns) && k.ns >= 0));
  await t.rejects(rt.stopProfile(), /without startProfile/);
  // after the profile, dispatches share one pass again and still compute
  const sum = add(rt, rt.upload([1, 2], [2]), rt.upload([3, 4], [2]));
  t.same([...(await rt.read(sum))], [4, 6]);
  for (const x of [a, b, sum, ...outputs]) x.dispose();
});

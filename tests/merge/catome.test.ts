import t from 'tap';
import { readFileSync } from 'node:fs';
import { testRuntime } from '../support/runtime.js';
import { fromRoot } from '../../runtime/paths.js';
import type { Tensor } from '../../runtime/tensor.js';
import { gridPartition } from '../../merge/partition.js';
import { countAtLeastThreshold, disposePartition, matchBipartite, planMerge, readMergeCounts } from '../../merge/bipartite.js';
import { CaToMePlugin, type CaToMeBlockState } from '../../merge/catome.js';
import { CA_TOME_SCHEDULES, checkpointSteps } from '../../merge/schedules.js';
import { createMergePlugin } from '../../merge/index.js';
import { AttentionHooks, type BlockPlace, type Evaluation } from '../../unet/hooks.js';
import { maxRelError } from '../support/compare.js';
import { loadTinyUNet, openUNetGolden } from '../unet/fixture.js';
import { MERGE_CASES, maxAbsDiff, openMergeGolden } from './golden.js';

const THRESHOLDS = [0.9, 0.7, 0.5];

interface CountEntry {
  readonly w: number;
  readonly h: number;
  readonly threshold: number;
  readonly merged_tokens: number;
}
const index = JSON.parse(readFileSync(fromRoot('tests', 'fixtures', 'tiny-sd', 'golden', 'index.json'), 'utf8')) as { merge: { catome: CountEntry[] } };
const expectedCount = (w: number, h: number, thr: number) => index.merge.catome.find((e) => e.w === w && e.h === h && e.threshold === thr)!.merged_tokens;

t.test('ca_tome goldens: r, merged/unmerged, and x_next through the cached pairs', async (t) => {
  const rt = await testRuntime();
  const golden = await openMergeGolden();
  for (const { width, height } of MERGE_CASES) {
    const grid = `w${width}h${height}`;
    const x = rt.keep(await golden.upload(rt, `${grid}.x`));
    const partition = gridPartition(rt, width, height, { sx: 2, sy: 2 });
    const match = matchBipartite(rt, x, partition);
    for (const threshold of THRESHOLDS) {
      const key = `${grid}.catome${threshold}`;
      const counts = countAtLeastThreshold(rt, match, threshold);
      const [r] = await readMergeCounts(rt, [counts]);
      counts.dispose();
      t.equal(r, expectedCount(width, height, threshold), `${key}: r`);
      const xNext = await golden.upload(rt, `${key}.x_next`);
      const outs = rt.tidy(() => {
        const plan = planMerge(rt, match, r!);
        const merged = plan.merge(x);
        const mergedNext = plan.merge(xNext);
        return { merged, unmerged: plan.unmerge(merged), merged_next_cached: mergedNext, unmerged_next_cached: plan.unmerge(mergedNext) };
      });
      for (const [name, tensor] of Object.entries(outs) as [string, Tensor][]) {
        t.same(tensor.shape, golden.shape(`${key}.${name}`), `${key}.${name}: shape`);
        const err = maxAbsDiff(await rt.read(tensor), await golden.read(`${key}.${name}`));
        t.ok(err <= 1e-5, `${key}.${name}: max abs error ${err.toExponential(2)}`);
        tensor.dispose();
      }
      xNext.dispose();
    }
    match.dispose();
    disposePartition(partition);
    x.dispose();
  }
  await golden.close();
});

t.test('schedules', async (t) => {
  t.same([...checkpointSteps('CONFIG_3')], [0, 8, 11, 13, 20, 25, 30, 35, 45, 46, 47, 48, 49]);
  t.same([...checkpointSteps('FIVE')], [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
  t.equal(CA_TOME_SCHEDULES.ADAPTIVE.length, 16);
  t.same([...checkpointSteps([3, 1])], [3, 1]);
  t.throws(() => checkpointSteps('CONFIG_9' as never), /unknown schedule/);
  t.throws(() => checkpointSteps([-1]), /non-negative/);
});

const place: BlockPlace = {
  name: 'up_blocks.3.attentions.0.transformer_blocks.0',
  stage: 'up',
  blockIndex: 3,
  attentionIndex: 0,
  transformerIndex: 0,
  ordinal: 13,
  depth: 0,
  downsample: 1,
  width: 16,
  height: 16,
  tokens: 256,
  channels: 32,
  heads: 8,
  headDim: 4,
  contextTokens: 77,
};
const evaluation = (step: number): Evaluation => ({ step, timestep: null, batch: { size: 2, images: 1, guidance: 'cfg' }, latentWidth: 16, latentHeight: 16 });

t.test('the CA-ToMe plug-in: pairs cached between checkpoints, r one evaluation late, one sync point', async (t) => {
  const rt = await testRuntime();
  const golden = await openMergeGolden();
  const x = rt.keep(await golden.upload(rt, 'w16h16.x'));
  const xNext = rt.keep(await golden.upload(rt, 'w16h16.catome0.7.x_next'));
  const zeros = rt.keep(rt.zeros(x.shape, 'f32'));
  const plugin = createMergePlugin(rt, { method: 'catome', threshold: 0.7, checkpoints: [0, 2], useRand: false }) as CaToMePlugin;
  const state = plugin.createBlockState();
  const call = (input: Tensor, step: number) => plugin.planBlock(input, { place, evaluation: evaluation(step), state });
  const check = async (step: number, input: Tensor, key: string) => {
    const outs = rt.tidy(() => {
      const plan = call(input, step);
      t.same(Object.keys(plan ?? {}), ['attn1'], `step ${step}: attn1 wrapped`);
      const merged = plan!.attn1!.merge!(input);
      return [merged, plan!.attn1!.unmergeAdd!(merged, zeros)];
    });
    t.ok(maxAbsDiff(await rt.read(outs[0]!), await golden.read(`w16h16.catome0.7.merged${key}`)) <= 1e-5, `step ${step}: merged${key}`);
    t.ok(maxAbsDiff(await rt.read(outs[1]!), await golden.read(`w16h16.catome0.7.unmerged${key}`)) <= 1e-5, `step ${step}: unmerged${key}`);
    outs.forEach((o) => o.dispose());
  };

  // checkpoint 0: pairs from x, count left on the GPU; no count known yet, so no merge
  t.equal(rt.tidy(() => call(x, 0)), undefined, 'first checkpoint: no r yet');
  t.throws(() => rt.tidy(() => call(xNext, 1)), /resolveMergeCounts/, 'an unresolved count is an error, not a silent guess');
  await plugin.resolveMergeCounts();
  t.equal(plugin.syncPoints, 1);
  t.equal(state.count, 185);
  // step 1: x_next through the pairs cached from x (ca_tome's cached path)
  await check(1, xNext, '_next_cached');
  await plugin.resolveMergeCounts();
  t.equal(plugin.syncPoints, 1, 'nothing pending: no wait');
  // checkpoint 2: fresh pairs from x, with the previous count (185, which x also gives)
  await check(2, x, '');
  await plugin.resolveMergeCounts();
  t.equal(plugin.syncPoints, 2);
  // threshold ≥ 1 merges nothing
  const off = new CaToMePlugin(rt, { threshold: 1 });
  t.equal(off.planBlock(x, { place, evaluation: evaluation(0), state: off.createBlockState() }), undefined);
  off.dispose();

  plugin.disposeBlockState(state);
  t.equal(state.match, null, 'block state released');
  plugin.dispose?.();
  [x, xNext, zeros].forEach((v) => v.dispose());
  await golden.close();
});

t.test('CA-ToMe block state is released by dispose()', async (t) => {
  const rt = await testRuntime();
  const plugin = new CaToMePlugin(rt, { threshold: 0.5, useRand: true, seed: 3 });
  const x = rt.keep(rt.upload(Float32Array.from({ length: 2 * 256 * 32 }, (_, i) => Math.sin(i * 0.37)), [2, 256, 32]));
  const state: CaToMeBlockState = plugin.createBlockState();
  rt.tidy(() => plugin.planBlock(x, { place, evaluation: evaluation(0), state }));
  t.ok(state.match && state.partition && state.ownsPartition, 'random split owned by the block');
  await plugin.resolveMergeCounts();
  t.ok((state.count ?? -1) >= 0);
  plugin.dispose();
  t.equal(state.match, null);
  t.equal(state.partition, null);
  x.dispose();
});

t.setTimeout(900_000);

t.test('the tiny U-Net under the CA-ToMe plug-in, with the count resolved between evaluations', { timeout: 900_000 }, async (t) => {
  const rt = await testRuntime();
  const golden = await openUNetGolden(rt);
  const unet = await loadTinyUNet(rt, 'f32');
  const forward = async (hooks: AttentionHooks<unknown> | undefined, step: number) => {
    const out = unet.forward(golden.sample, 981, golden.context, { step, hooks, guidance: 'cfg' });
    const values = await rt.read(out);
    out.dispose();
    return values;
  };
  const reference = await forward(undefined, 0);
  // a low threshold so the tiny model's blocks merge something
  const plugin = createMergePlugin(rt, { method: 'catome', threshold: 0.2, checkpoints: 'CONFIG_3', useRand: false });
  const hooks = new AttentionHooks(plugin);
  t.equal(maxRelError(await forward(hooks, 0), reference), 0, 'evaluation 0 (checkpoint, no count yet): unmerged');
  await plugin.resolveMergeCounts!();
  t.equal(plugin.syncPoints, 1, 'one sync after the checkpoint evaluation');
  const merged = await forward(hooks, 1);
  await plugin.resolveMergeCounts!();
  t.equal(plugin.syncPoints, 1, 'no sync after a cached evaluation');
  t.ok(merged.every(Number.isFinite), 'finite');
  t.ok(maxRelError(merged, reference) > 1e-4, `cached pairs change the output (${maxRelError(merged, reference).toExponential(2)})`);
  const merging = unet.sites.filter((s) => (hooks.stateOf(s.name) as CaToMeBlockState | undefined)?.plan);
  t.same(merging.map((s) => s.downsample), merging.map(() => 1), 'only full-resolution blocks merge');
  t.ok(merging.length > 0, `${merging.length} blocks merge`);
  hooks.dispose();
  t.teardown(async () => {
    unet.dispose();
    await golden.dispose();
  });
});

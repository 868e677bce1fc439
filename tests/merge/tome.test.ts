import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import { gridPartition, tomesdGridSplit } from '../../merge/partition.js';
import { matchBipartite, planMerge, disposePartition } from '../../merge/bipartite.js';
import { ToMePlugin } from '../../merge/tome.js';
import { createMergePlugin } from '../../merge/index.js';
import { AttentionHooks, SUBLAYERS, type BlockPlace, type Evaluation } from '../../unet/hooks.js';
import { loadTinyUNet, openUNetGolden } from '../unet/fixture.js';
import { MERGE_CASES, maxAbsDiff, openMergeGolden } from './golden.js';

const STRIDE = { sx: 2, sy: 2 };

t.test('tomesd goldens: merged and unmerged for ratio 0.5 and 0.3 on every grid', async (t) => {
  const rt = await testRuntime();
  const golden = await openMergeGolden();
  for (const { width, height } of MERGE_CASES) {
    const x = rt.keep(await golden.upload(rt, `w${width}h${height}.x`));
    const partition = gridPartition(rt, width, height, STRIDE);
    const match = matchBipartite(rt, x, partition);
    for (const ratio of [0.5, 0.3]) {
      const key = `w${width}h${height}.tome${ratio}`;
      const r = Math.min(Math.floor(width * height * ratio), partition.nSrc);
      const [merged, unmerged] = rt.tidy(() => {
        const plan = planMerge(rt, match, r);
        const m = plan.merge(x);
        return [m, plan.unmerge(m)];
      });
      t.same(merged.shape, golden.shape(`${key}.merged`), `${key}: merged shape`);
      const gotMerged = await rt.read(merged);
      const gotUnmerged = await rt.read(unmerged);
      const errMerged = maxAbsDiff(gotMerged, await golden.read(`${key}.merged`));
      const errUnmerged = maxAbsDiff(gotUnmerged, await golden.read(`${key}.unmerged`));
      t.ok(errMerged <= 1e-5, `${key}: merged max abs error ${errMerged.toExponential(2)}`);
      t.ok(errUnmerged <= 1e-5, `${key}: unmerged max abs error ${errUnmerged.toExponential(2)}`);
      merged.dispose();
      unmerged.dispose();
    }
    match.dispose();
    disposePartition(partition);
    x.dispose();
  }
  await golden.close();
});

t.test("tomesd's split order is torch's unstable CPU argsort", async (t) => {
  // 4×4 grid: destinations 0, 2, 8, 10; 16 elements stay in insertion sort (stable)
  const small = tomesdGridSplit(4, 4, STRIDE);
  t.same([...small.dst], [0, 2, 8, 10]);
  t.same([...small.src], [1, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15]);
  // larger grids go through introsort's partitioning: not the index order any more
  const big = tomesdGridSplit(16, 16, STRIDE);
  t.equal(big.dst.length, 64);
  t.same([...big.dst].sort((a, b) => a - b), Array.from({ length: 64 }, (_, i) => Math.floor(i / 8) * 32 + (i % 8) * 2));
  t.not([...big.dst].join(), [...big.dst].sort((a, b) => a - b).join(), 'order differs from index order');
  const odd = tomesdGridSplit(13, 9, STRIDE);
  t.equal(odd.dst.length, 4 * 6, 'remainder rows/columns hold no destination');
  t.equal(odd.src.length, 117 - 24);
});

function place(width: number, height: number, channels: number, downsample = 1): BlockPlace {
  return {
    name: 'down_blocks.0.attentions.0.transformer_blocks.0',
    stage: 'down',
    blockIndex: 0,
    attentionIndex: 0,
    transformerIndex: 0,
    ordinal: 0,
    depth: Math.log2(downsample),
    downsample,
    width,
    height,
    tokens: width * height,
    channels,
    heads: 8,
    headDim: channels / 8,
    contextTokens: 77,
  };
}

function evaluation(step: number, latentWidth: number, latentHeight: number): Evaluation {
  return { step, timestep: 999, batch: { size: 2, images: 1, guidance: 'cfg' }, latentWidth, latentHeight };
}

t.test('the ToMe plug-in wraps attn1 only (tomesd defaults) and reproduces the golden', async (t) => {
  const rt = await testRuntime();
  const golden = await openMergeGolden();
  const plugin = new ToMePlugin(rt, { ratio: 0.5, useRand: false });
  const x = rt.keep(await golden.upload(rt, 'w16h16.x'));
  const [merged, unmerged] = rt.tidy(() => {
    const plan = plugin.planBlock(x, { place: place(16, 16, 32), evaluation: evaluation(0, 16, 16), state: undefined });
    t.same(SUBLAYERS.filter((s) => plan?.[s]), ['attn1']);
    const m = plan!.attn1!.merge!(x);
    const zeros = rt.zeros(x.shape, 'f32');
    return [m, plan!.attn1!.unmergeAdd!(m, zeros)];
  });
  t.ok(maxAbsDiff(await rt.read(merged), await golden.read('w16h16.tome0.5.merged')) <= 1e-5, 'merged');
  t.ok(maxAbsDiff(await rt.read(unmerged), await golden.read('w16h16.tome0.5.unmerged')) <= 1e-5, 'unmergeAdd onto zeros');
  // a block downsampled twice is left alone with max_downsample 1, merged with 2
  t.equal(plugin.planBlock(x, { place: place(16, 16, 32, 2), evaluation: evaluation(0, 32, 32), state: undefined }), undefined);
  const wide = new ToMePlugin(rt, { ratio: 0.5, useRand: false, maxDownsample: 2, mergeMlp: true, mergeCrossAttn: true });
  rt.tidy(() => {
    const plan = wide.planBlock(x, { place: place(16, 16, 32, 2), evaluation: evaluation(0, 32, 32), state: undefined });
    t.same(SUBLAYERS.filter((s) => plan?.[s]), ['attn1', 'attn2', 'ff']);
  });
  t.equal(new ToMePlugin(rt, { ratio: 0 }).planBlock(x, { place: place(16, 16, 32), evaluation: evaluation(0, 16, 16), state: undefined }), undefined, 'ratio 0: no merge');
  t.throws(() => new ToMePlugin(rt, { ratio: 1 }), /ratio/);
  t.throws(() => createMergePlugin(rt, { method: 'bogus' } as never), /unknown token-merging method/);
  merged.dispose();
  unmerged.dispose();
  x.dispose();
  plugin.dispose();
  wide.dispose();
  await golden.close();
});

t.test('f16 tokens: the same merge within f16 tolerance (unmerged, which does not depend on near-tie order)', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('no shader-f16 on this device');
    return;
  }
  const golden = await openMergeGolden();
  const plugin = new ToMePlugin(rt, { ratio: 0.5, useRand: false });
  for (const { width, height } of MERGE_CASES) {
    const x = rt.keep(rt.upload(await golden.read(`w${width}h${height}.x`), [2, width * height, 32], 'f16'));
    const out = rt.tidy(() => {
      const plan = plugin.planBlock(x, { place: place(width, height, 32), evaluation: evaluation(0, width, height), state: undefined })!;
      return plan.attn1!.unmergeAdd!(plan.attn1!.merge!(x), rt.zeros(x.shape, 'f16'));
    });
    t.equal(out.dtype, 'f16');
    const err = maxRelError(await rt.read(out), await golden.read(`w${width}h${height}.tome0.5.unmerged`));
    t.ok(err <= 2e-3, `w${width}h${height}: unmerged max rel error ${err.toExponential(2)}`);
    out.dispose();
    x.dispose();
  }
  plugin.dispose();
  await golden.close();
});

t.test('random destinations: one per cell, seeded, and the same for both CFG halves', async (t) => {
  const rt = await testRuntime();
  const golden = await openMergeGolden();
  const x = rt.keep(await golden.upload(rt, 'w13h9.x'));
  const plugin = new ToMePlugin(rt, { ratio: 0.5, seed: 7 });
  const run = async (step: number) => {
    const out = rt.tidy(() => {
      const plan = plugin.planBlock(x, { place: place(13, 9, 32), evaluation: evaluation(step, 13, 9), state: undefined })!;
      return plan.attn1!.unmergeAdd!(plan.attn1!.merge!(x), rt.zeros(x.shape, 'f32'));
    });
    const v = await rt.read(out);
    out.dispose();
    return v;
  };
  const a = await run(3);
  t.equal(maxAbsDiff(a, await run(3)), 0, 'same seed, step and block: same result');
  t.ok(maxAbsDiff(a, await run(4)) > 0, 'another step draws other destinations');
  t.ok(a.every(Number.isFinite));
  x.dispose();
  plugin.dispose();
  await golden.close();
});

t.setTimeout(900_000);

t.test('the tiny U-Net under the ToMe plug-in', { timeout: 900_000 }, async (t) => {
  const rt = await testRuntime();
  const golden = await openUNetGolden(rt);
  const unet = await loadTinyUNet(rt, 'f32');
  const run = async (plugin?: ToMePlugin) => {
    const hooks = plugin ? new AttentionHooks(plugin) : undefined;
    const out = unet.forward(golden.sample, 981, golden.context, { step: 0, hooks, guidance: 'cfg' });
    const values = await rt.read(out);
    out.dispose();
    hooks?.dispose();
    return values;
  };
  const reference = await run();
  const zero = await run(new ToMePlugin(rt, { ratio: 0 }));
  t.equal(maxRelError(zero, reference), 0, 'ratio 0 equals the unmerged U-Net exactly');
  const half = await run(new ToMePlugin(rt, { ratio: 0.5, useRand: false }));
  t.ok(half.every(Number.isFinite), 'ratio 0.5: finite');
  const change = maxRelError(half, reference);
  t.ok(change > 1e-4, `ratio 0.5 changes the output (max rel ${change.toExponential(2)})`);
  t.teardown(async () => {
    unet.dispose();
    await golden.dispose();
  });
});

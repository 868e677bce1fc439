// The plans' tokenMap (unet/hooks.ts) for ToMe and ToMA, its measures, and the recording wrapper.

import t from 'tap';
import type tap from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import { gridTile } from '../../kernels/toma-layout.js';
import { ToMePlugin } from '../../merge/tome.js';
import { createTomaPlugin, type TomaBlockState } from '../../merge/toma.js';
import { mergedFraction, mergePairCount, mergePairDistance } from '../../merge/token-map-metrics.js';
import { TokenMapRecorder } from '../../merge/token-map-recorder.js';
import { AttentionHooks, type AttentionPlugin, type BlockPlace, type Evaluation } from '../../unet/hooks.js';

t.setTimeout(600_000);

const place = (width: number, height: number, ordinal = 0): BlockPlace => ({
  name: `test.${width}x${height}.${ordinal}`,
  stage: 'down',
  blockIndex: 0,
  attentionIndex: ordinal,
  transformerIndex: 0,
  ordinal,
  depth: 0,
  downsample: 1,
  width,
  height,
  tokens: width * height,
  channels: 8,
  heads: 1,
  headDim: 8,
  contextTokens: 77,
});

const evaluation = (step: number, width: number, height: number): Evaluation => ({
  step,
  timestep: 1000 - step,
  batch: { size: 2, images: 1, guidance: 'cfg' },
  latentHeight: height,
  latentWidth: width,
});

/** unmerge(merge(x)) must give every token the merged value of its tokenMap row. */
async function checkGather(t: Pick<typeof tap, 'ok'>, rt: Runtime, x: Tensor, merged: Tensor, roundTrip: Tensor, rows: Uint32Array, label: string): Promise<void> {
  const [batch, tokens, channels] = x.shape as [number, number, number];
  const m = await rt.read(merged);
  const u = await rt.read(roundTrip);
  const mergedRows = merged.shape[1]!;
  let err = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < tokens; i++) {
      const row = rows[b * tokens + i]!;
      for (let c = 0; c < channels; c++) err = Math.max(err, Math.abs(u[(b * tokens + i) * channels + c]! - m[(b * mergedRows + row) * channels + c]!));
    }
  }
  t.ok(err < 1e-3, `${label}: unmerge(merge(x))[i] = merged[tokenMap[i]] (max diff ${err.toExponential(1)})`);
}

t.test('measures on hand-made maps', async (t) => {
  const m = (...rows: number[]) => Uint32Array.from(rows);
  t.equal(mergedFraction(m(0, 1, 2, 3), 1), 0, 'every token its own row: nothing merged');
  t.equal(mergedFraction(m(0, 0, 1, 2), 1), 0.25, 'one pair: 1 − 3/4');
  t.equal(mergedFraction(m(0, 1, 2, 3, 0, 0, 0, 1), 2), 0.25, 'averaged over batch rows: (0 + 1/2) / 2');
  t.equal(mergePairCount(m(0, 0, 0, 1), 1), 3, 'a group of three holds three pairs');
  t.equal(mergePairCount(m(0, 0, 1, 1, 0, 1, 2, 3), 2), 2, 'pairs of all batch rows');
  const a = m(0, 0, 1, 1); // {0,1}, {2,3}
  const b = m(0, 0, 0, 1); // {0,1}, {0,2}, {1,2}
  t.equal(mergePairDistance(a, b, 1), 0.75, 'one shared pair of four: 1 − 1/4');
  t.equal(mergePairDistance(b, m(1, 1, 1, 0), 1), 0, 'the same groups under other row numbers: 0');
  t.equal(mergePairDistance(a, a, 1), 0, 'identical: 0');
  t.equal(mergePairDistance(null, null, 1), 0, 'both merged nothing: 0');
  t.equal(mergePairDistance(m(0, 1, 2, 3), null, 1), 0, 'no pairs on either side: 0');
  t.equal(mergePairDistance(a, null, 1), 1, 'against a block that merged nothing: 1');
  // batch rows are kept apart: the same pair in another row is another pair
  t.equal(mergePairDistance(m(0, 0, 1, 2, 0, 1, 2, 3), m(0, 1, 2, 3, 0, 0, 1, 2), 2), 1, 'pairs of different batch rows never match');
  t.throws(() => mergedFraction(m(0, 4, 1, 2), 1), /row 4 outside 0\.\.3/);
  t.throws(() => mergePairDistance(a, m(0, 0), 1), /maps of 4 and 2 entries/);
});

t.test("ToMe: tokenMap is the merge's positions, N − r rows", async (t) => {
  const rt = await testRuntime();
  const p = place(8, 6);
  const plugin = new ToMePlugin(rt, { ratio: 0.5, useRand: false });
  const x = rt.keep(rt.upload(seededValues(2 * p.tokens * 8, 3), [2, p.tokens, 8], 'f32'));
  const [merged, roundTrip, map] = rt.tidy(() => {
    const plan = plugin.planBlock(x, { place: p, evaluation: evaluation(0, 8, 6), state: undefined })!;
    const merged = plan.attn1!.merge!(x);
    return [merged, plan.attn1!.unmerge!(merged), plan.tokenMap!()];
  }) as [Tensor, Tensor, Tensor];
  const rows = await rt.readU32(map);
  const r = Math.floor(p.tokens * 0.5);
  t.same(map.shape, [2, p.tokens]);
  t.equal(merged.shape[1], p.tokens - r, `merged sequence of N − r = ${p.tokens - r}`);
  t.equal(mergedFraction(rows, 2), r / p.tokens, 'merged fraction r/N exactly');
  t.ok(rows.every((v) => v < p.tokens - r), 'every row inside the merged sequence');
  await checkGather(t, rt, x, merged, roundTrip, rows, 'ToMe');
  for (const x_ of [x, merged, roundTrip, map]) x_.dispose();
  plugin.dispose();
});

t.test("ToMA: tokenMap is each token's argmax destination, known after the first merge", async (t) => {
  const rt = await testRuntime();
  const p = place(6, 5);
  // a huge scale makes the soft assignment hard, so unmerge(merge(x)) gathers exactly by the map
  for (const scale of [1000, 1e6]) {
    const hooks = new AttentionHooks(createTomaPlugin(rt, { ratio: 0.5, tiles: 4, scale }));
    const x = rt.keep(rt.upload(seededValues(2 * p.tokens * 8, 11), [2, p.tokens, 8], 'f32'));
    const [merged, roundTrip, map] = rt.tidy(() => {
      const plan = hooks.planBlock(x, p, evaluation(0, 6, 5))!;
      t.throws(() => plan.tokenMap!(), /tokenMap is known once the block's first merge has run/);
      const merged = plan.attn1!.merge!(x);
      return [merged, plan.attn1!.unmerge!(merged), plan.tokenMap!()];
    }) as [Tensor, Tensor, Tensor];
    const rows = await rt.readU32(map);
    const state = hooks.stateOf(p.name) as TomaBlockState;
    const g = state.grid!;
    const weights = await rt.read(state.assignment!.unmerge);
    // host argmax over each token's tile destinations, the first on ties
    const want = new Uint32Array(2 * g.tokens);
    for (let b = 0; b < 2; b++) {
      for (let tile = 0; tile < g.tiles; tile++) {
        const tl = gridTile(g, tile);
        for (let j = 0; j < tl.tokens; j++) {
          const i = b * g.tokens + (tl.y0 + Math.floor(j / tl.w)) * g.width + tl.x0 + (j % tl.w);
          let best = 0;
          for (let d = 1; d < tl.dstCount; d++) if (weights[i * g.maxTileDestinations + d]! > weights[i * g.maxTileDestinations + best]!) best = d;
          want[i] = tl.dstOffset + best;
        }
      }
    }
    t.same([...rows], [...want], `scale ${scale}: the argmax of the unmerge weights`);
    t.ok(mergedFraction(rows, 2) >= Math.floor(p.tokens * 0.5) / p.tokens, `scale ${scale}: at least r/N merged (${mergedFraction(rows, 2).toFixed(3)})`);
    if (scale > 1000) await checkGather(t, rt, x, merged, roundTrip, rows, 'ToMA, hard assignment');
    for (const x_ of [x, merged, roundTrip, map]) x_.dispose();
    hooks.dispose();
  }
});

t.test('the recorder forwards every hook and keeps a copy of each map until read', async (t) => {
  const rt = await testRuntime();
  const calls: string[] = [];
  const inner = new ToMePlugin(rt, { ratio: 0.5, useRand: false });
  const spy: AttentionPlugin<unknown> = {
    beginEvaluation: (e) => void calls.push(`begin ${e.step}`),
    createBlockState: (pl) => (calls.push(`state ${pl.name}`), { mine: true }),
    planBlock: (x, call) => (calls.push(`plan ${(call.state as { mine: boolean }).mine}`), inner.planBlock(x, { ...call, state: undefined })),
    endEvaluation: (e) => void calls.push(`end ${e.step}`),
    disposeBlockState: () => void calls.push('dispose state'),
    dispose: () => {
      calls.push('dispose');
      inner.dispose();
    },
  };
  await rt.sync();
  const before = rt.pool.stats().liveBytes;
  const recorder = new TokenMapRecorder(rt, spy);
  const hooks = new AttentionHooks(recorder);
  const places = [place(8, 6, 0), place(8, 6, 1)];
  const expected: Uint32Array[] = [];
  for (const step of [0, 1]) {
    const e = evaluation(step, 8, 6);
    hooks.beginEvaluation(e);
    for (const [k, p] of places.entries()) {
      rt.tidy(() => {
        const x = rt.upload(seededValues(2 * p.tokens * 8, 10 * step + k), [2, p.tokens, 8], 'f32');
        const plan = hooks.planBlock(x, p, e)!;
        // block 1 of step 1 plans but never merges: nothing to record
        if (step === 1 && k === 1) return;
        plan.attn1!.merge!(x);
        expected.push(new Uint32Array(0));
        const at = expected.length - 1;
        const map = plan.tokenMap!();
        void rt.readU32(map).then((v) => (expected[at] = v));
      });
    }
    const noise = rt.zeros([2, 4, 8, 6], 'f32');
    hooks.endEvaluation(e, noise);
    noise.dispose();
  }
  await rt.sync();
  const read = await recorder.read();
  t.same(read.map((r) => r.evaluation.step), [0, 1], 'one record per evaluation');
  t.same(read.map((r) => r.maps.map((m) => m.place.name)), [[places[0]!.name, places[1]!.name], [places[0]!.name]], 'blocks that merged, in order');
  t.same(read.flatMap((r) => r.maps.map((m) => [...m.rows])), expected.map((v) => [...v]), 'the copies equal the maps at record time');
  t.ok(read.every((r) => r.maps.every((m) => m.batch === 2)));
  t.same(await recorder.read(), [], 'read() takes each evaluation once');
  t.same(
    calls,
    [
      'begin 0', `state ${places[0]!.name}`, 'plan true', `state ${places[1]!.name}`, 'plan true', 'end 0',
      'begin 1', 'plan true', 'plan true', 'end 1',
    ],
    'every hook forwarded, with the inner plug-in\'s own state',
  );
  // an evaluation left unread is freed by dispose
  hooks.beginEvaluation(evaluation(2, 8, 6));
  rt.tidy(() => {
    const x = rt.upload(seededValues(2 * 48 * 8, 5), [2, 48, 8], 'f32');
    hooks.planBlock(x, places[0]!, evaluation(2, 8, 6))!.attn1!.merge!(x);
  });
  hooks.dispose();
  t.same(calls.slice(-3), ['dispose state', 'dispose state', 'dispose'], 'block states and the plug-in released');
  await rt.sync();
  t.equal(rt.pool.stats().liveBytes, before, 'every copy freed');
});

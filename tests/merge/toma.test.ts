import t from 'tap';
import type tap from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError, seededValues } from '../support/compare.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { FloatDType } from '../../runtime/dtype.js';
import type { Tensor } from '../../runtime/tensor.js';
import { gridTile, tomaGrid, type TomaGrid } from '../../kernels/toma-layout.js';
import { tomaMerge } from '../../kernels/toma-merge.js';
import { tomaUnmerge } from '../../kernels/toma-unmerge.js';
import { computeTomaAssignment } from '../../merge/toma-assignment.js';
import { createTomaPlugin, TOMA_DEFAULTS, type TomaBlockState } from '../../merge/toma.js';
import { referenceMerge } from '../../merge/toma-reference.js';
import { createMergePlugin } from '../../merge/index.js';
import { AttentionHooks, type BlockPlace, type Evaluation } from '../../unet/hooks.js';
import { loadTinyUNet, openUNetGolden } from '../unet/fixture.js';

t.setTimeout(900_000);

interface Run {
  readonly grid: TomaGrid;
  readonly dst: Uint32Array;
  readonly mergeW: Float32Array;
  readonly unmergeW: Float32Array;
  readonly merged: Float32Array;
  /** unmerge(merge(x)) */
  readonly roundTrip: Float32Array;
  /** merge(unmerge(y)) for a random y */
  readonly backAndForth: Float32Array;
  readonly y: Float32Array;
}

/** The whole GPU path on x [B, w·h, C]: assignment, merge, unmerge, and the two compositions. */
async function runToma(
  t: Pick<typeof tap, 'same'>,
  rt: Runtime,
  x: Float32Array,
  shape: [number, number, number, number],
  ratio: number,
  tiles: number,
  scale: number,
  dtype: FloatDType = 'f32',
): Promise<Run> {
  const [batch, w, h, channels] = shape;
  const n = w * h;
  const grid = tomaGrid(w, h, tiles, n - Math.floor(n * ratio));
  const y = seededValues(batch * grid.destinations * channels, 99);
  const tensors = rt.tidy(() => {
    const xT = rt.upload(x, [batch, n, channels], dtype);
    const a = computeTomaAssignment(rt, xT, grid, scale);
    const merged = tomaMerge(rt, xT, a.dst, a.merge, grid);
    const roundTrip = tomaUnmerge(rt, merged, a.unmerge, grid);
    const unmergedY = tomaUnmerge(rt, rt.upload(y, [batch, grid.destinations, channels], dtype), a.unmerge, grid);
    const backAndForth = tomaMerge(rt, unmergedY, a.dst, a.merge, grid);
    return [a.dst, a.merge, a.unmerge, merged, roundTrip, backAndForth];
  });
  const [dst, mergeW, unmergeW, merged, roundTrip, backAndForth] = tensors as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  t.same(merged.shape, [batch, grid.destinations, channels], `${dtype}: merged has N − r = ${grid.destinations} tokens`);
  const run: Run = {
    grid,
    dst: await rt.readU32(dst),
    mergeW: await rt.read(mergeW),
    unmergeW: await rt.read(unmergeW),
    merged: await rt.read(merged),
    roundTrip: await rt.read(roundTrip),
    backAndForth: await rt.read(backAndForth),
    y,
  };
  for (const x of tensors) x.dispose();
  return run;
}

/** Each token's destination (merged row) and weight: the largest of its unmerge weights. */
function assignments(run: Run, batch: number): { row: Int32Array; weight: Float32Array } {
  const g = run.grid;
  const row = new Int32Array(batch * g.tokens);
  const weight = new Float32Array(batch * g.tokens);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < g.tiles; t++) {
      const tile = gridTile(g, t);
      for (let j = 0; j < tile.tokens; j++) {
        const token = (tile.y0 + Math.floor(j / tile.w)) * g.width + tile.x0 + (j % tile.w);
        const i = b * g.tokens + token;
        for (let d = 0; d < tile.dstCount; d++) {
          const v = run.unmergeW[i * g.maxTileDestinations + d]!;
          if (v > weight[i]!) [weight[i], row[i]] = [v, b * g.destinations + tile.dstOffset + d];
        }
      }
    }
  }
  return { row, weight };
}

const cases: { shape: [number, number, number, number]; ratio: number; tiles: number }[] = [
  { shape: [2, 13, 9, 16], ratio: 0.5, tiles: 12 },
  { shape: [2, 16, 16, 16], ratio: 0.75, tiles: 16 },
  { shape: [1, 8, 8, 12], ratio: 0.3, tiles: 4 },
];

t.test('soft assignment (scale 1000): N − r tokens, weights normalised, deterministic', async (t) => {
  const rt = await testRuntime();
  for (const { shape, ratio, tiles } of cases) {
    const [batch, w, h, channels] = shape;
    const label = `B${batch} ${w}x${h} C${channels} ratio ${ratio}, ${tiles} tiles`;
    const x = seededValues(batch * w * h * channels, w * h);
    const run = await runToma(t, rt, x, shape, ratio, tiles, 1000);
    const g = run.grid;
    t.equal(g.destinations, w * h - Math.floor(w * h * ratio), `${label}: N − r = ${g.destinations}`);
    // each token's weights over its destinations (the softmax) and each merged token's weights over its tile sum to 1
    let unmergeErr = 0;
    for (let i = 0; i < batch * g.tokens; i++) {
      let s = 0;
      for (let d = 0; d < g.maxTileDestinations; d++) s += run.unmergeW[i * g.maxTileDestinations + d]!;
      unmergeErr = Math.max(unmergeErr, Math.abs(s - 1));
    }
    let mergeErr = 0;
    for (let m = 0; m < batch * g.destinations; m++) {
      let s = 0;
      for (let j = 0; j < g.maxTileTokens; j++) s += run.mergeW[m * g.maxTileTokens + j]!;
      mergeErr = Math.max(mergeErr, Math.abs(s - 1));
    }
    t.ok(unmergeErr < 1e-5 && mergeErr < 1e-5, `${label}: softmax rows ${unmergeErr.toExponential(1)}, normalised merge rows ${mergeErr.toExponential(1)} from 1`);
    t.ok(maxRelError(run.merged, referenceMerge(x, run.dst, run.mergeW, batch, channels, g)) < 1e-5, `${label}: merged = (A / rowsum A) · x per tile`);
    const again = await runToma(t, rt, x, shape, ratio, tiles, 1000);
    const same = (a: Float32Array | Uint32Array, b: Float32Array | Uint32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    t.ok(
      same(run.dst, again.dst) && same(run.mergeW, again.mergeW) && same(run.unmergeW, again.unmergeW) && same(run.merged, again.merged) && same(run.roundTrip, again.roundTrip),
      `${label}: two runs are bit-identical`,
    );
  }
});

t.test('f16 model dtype: same token counts, weights normalised to f16 precision', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('skipped: this device has no shader-f16');
    return;
  }
  const shape: [number, number, number, number] = [2, 13, 9, 16];
  const run = await runToma(t, rt, seededValues(2 * 13 * 9 * 16, 5), shape, 0.5, 12, 1000, 'f16');
  const g = run.grid;
  let err = 0;
  for (let i = 0; i < 2 * g.tokens; i++) {
    let s = 0;
    for (let d = 0; d < g.maxTileDestinations; d++) s += run.unmergeW[i * g.maxTileDestinations + d]!;
    err = Math.max(err, Math.abs(s - 1));
  }
  t.ok(err < 2e-3 && run.roundTrip.every(Number.isFinite), `softmax rows within ${err.toExponential(1)} of 1, outputs finite`);
});

t.test('hard assignment (huge scale): destinations keep themselves, merge ∘ unmerge = id, mass preserved', async (t) => {
  const rt = await testRuntime();
  for (const { shape, ratio, tiles } of cases) {
    const [batch, w, h, channels] = shape;
    const label = `B${batch} ${w}x${h} ratio ${ratio}, ${tiles} tiles`;
    const x = seededValues(batch * w * h * channels, 7 * w + h);
    const run = await runToma(t, rt, x, shape, ratio, tiles, 1e6);
    const g = run.grid;
    const { row, weight } = assignments(run, batch);
    t.ok(weight.every((v) => v > 1 - 1e-6), `${label}: every token goes wholly to one destination`);
    let selfAssigned = true;
    for (let b = 0; b < batch; b++) {
      for (let m = 0; m < g.destinations; m++) selfAssigned &&= row[b * g.tokens + run.dst[b * g.destinations + m]!] === b * g.destinations + m;
    }
    t.ok(selfAssigned, `${label}: each destination token is assigned to its own merged token`);
    // unmerge ∘ merge maps each token to its destination's merged value
    const expected = new Float32Array(run.roundTrip.length);
    row.forEach((m, i) => expected.set(run.merged.subarray(m * channels, (m + 1) * channels), i * channels));
    t.ok(maxRelError(run.roundTrip, expected) < 1e-6, `${label}: unmerge(merge(x))[i] = merged[dst(i)]`);
    t.ok(maxRelError(run.backAndForth, run.y) < 1e-6, `${label}: merge(unmerge(y)) = y`);
    // mass: count_d · merged_d = Σ of x over the tokens assigned to d
    const count = new Float32Array(batch * g.destinations);
    const sums = new Float64Array(batch * g.destinations * channels);
    row.forEach((m, i) => {
      count[m]!++;
      for (let c = 0; c < channels; c++) sums[m * channels + c] += x[i * channels + c]!;
    });
    const mass = run.merged.map((v, k) => v * count[Math.floor(k / channels)]!);
    t.ok(maxRelError(mass, sums) < 1e-5, `${label}: Σ merged · count = Σ x per destination group`);
  }
});

const place = (width: number, height: number, downsample = 1): BlockPlace => ({
  name: `test.${width}x${height}.${downsample}`,
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
  channels: 8,
  heads: 1,
  headDim: 8,
  contextTokens: 77,
});

const evaluation = (step: number, width: number, height: number): Evaluation => ({
  step,
  timestep: null,
  batch: { size: 2, images: 1, guidance: 'cfg' },
  latentHeight: height,
  latentWidth: width,
});

t.test('recompute interval: the step-0 assignment serves steps 1..k−1 and is replaced at step k', async (t) => {
  const rt = await testRuntime();
  const k = 3;
  const hooks = new AttentionHooks(createTomaPlugin(rt, { ratio: 0.5, tiles: 4, recomputeInterval: k }));
  const p = place(6, 5);
  const n = p.tokens;
  let first: { dst: Tensor; merge: Tensor; mergeW: Float32Array; dstValues: Uint32Array } | null = null;
  for (let step = 0; step <= k; step++) {
    const x = seededValues(2 * n * 8, 100 + step);
    const merged = rt.tidy(() => {
      const xT = rt.upload(x, [2, n, 8], 'f32');
      const plan = hooks.planBlock(xT, p, evaluation(step, 6, 5));
      return plan!.attn1!.merge!(xT);
    });
    const state = hooks.stateOf(p.name) as TomaBlockState;
    const a = state.assignment!;
    const grid = state.grid!;
    const got = await rt.read(merged);
    merged.dispose();
    if (step === 0) {
      first = { dst: a.dst, merge: a.merge, mergeW: await rt.read(a.merge), dstValues: await rt.readU32(a.dst) };
      t.same([state.computedAt, state.computations], [0, 1], 'step 0 computes');
    } else if (step < k) {
      t.same([state.computedAt, state.computations], [0, 1], `step ${step} reuses the step-0 assignment`);
      t.ok(a.dst === first!.dst && a.merge === first!.merge, `step ${step}: same tensors`);
      const want = referenceMerge(x, first!.dstValues, first!.mergeW, 2, 8, grid);
      t.ok(maxRelError(got, want) < 1e-6, `step ${step}: merges the new tokens with the step-0 weights`);
    } else {
      t.same([state.computedAt, state.computations], [k, 2], `step ${k} recomputes`);
      t.ok(first!.dst.isDisposed && first!.merge.isDisposed, 'the old assignment is released');
      t.not(a.dst, first!.dst);
    }
  }
  const last = (hooks.stateOf(p.name) as TomaBlockState).assignment!;
  const later = rt.tidy(() => hooks.planBlock(rt.zeros([2, 4, 8], 'f32'), place(2, 2, 2), evaluation(0, 2, 2)));
  t.equal(later, undefined, 'blocks past maxDownsample are not merged');
  t.equal(hooks.stateOf(place(2, 2, 2).name), null, 'and hold no state');
  hooks.dispose();
  t.ok(last.dst.isDisposed && last.merge.isDisposed && last.unmerge.isDisposed, 'dispose releases the block state');

  const none = new AttentionHooks(createTomaPlugin(rt, { ratio: 0 }));
  t.equal(rt.tidy(() => none.planBlock(rt.zeros([2, n, 8], 'f32'), p, evaluation(0, 6, 5))), undefined, 'ratio 0 merges nothing');
  none.dispose();
  t.throws(() => createTomaPlugin(rt, { ratio: 1 }), /ratio 1 must be in \[0, 1\)/);
  t.throws(() => createTomaPlugin(rt, { recomputeInterval: 0 }), /recomputeInterval/);
  const registered = createMergePlugin(rt, { method: 'toma', ratio: 0.25 });
  t.ok(registered.method === 'toma' && typeof registered.planBlock === 'function', "createMergePlugin knows 'toma'");
  t.same(TOMA_DEFAULTS, { ratio: 0.5, tiles: 256, scale: 1000, recomputeInterval: 3, mergeMlp: false, maxDownsample: 1 });
});

t.test('the tiny U-Net under CFG with the ToMA plug-in', { timeout: 900_000 }, async (t) => {
  const rt = await testRuntime();
  const golden = await openUNetGolden(rt);
  const unet = await loadTinyUNet(rt, 'f32');
  const run = async (hooks?: AttentionHooks<unknown>, step = 0) => {
    const out = unet.forward(golden.sample, 981, golden.context, { step, hooks, guidance: 'cfg' });
    const values = await rt.read(out);
    out.dispose();
    return values;
  };
  const reference = await run();

  const zero = new AttentionHooks(createTomaPlugin(rt, { ratio: 0 }));
  t.ok(maxRelError(await run(zero), reference) <= 1e-6, 'ratio 0: output equals the unmerged one');
  zero.dispose();

  // 4x4-token tiles (as the default 256 tiles at 512²) over two evaluations; the defaults (irregular
  // tiles on this 16x16 grid) with the feed-forward merged too over one, to keep the test short
  for (const [options, steps] of [[{ ratio: 0.5, tiles: 16 }, 2], [{ ratio: 0.5, mergeMlp: true }, 1]] as const) {
    const hooks = new AttentionHooks(createTomaPlugin(rt, options));
    const label = JSON.stringify(options);
    const outs: Float32Array[] = [];
    for (let step = 0; step < steps; step++) outs.push(await run(hooks, step));
    t.ok(outs.every((o) => o.every(Number.isFinite)), `${label}: finite`);
    const change = maxRelError(outs[0]!, reference);
    t.ok(change > 1e-3, `${label}: differs from unmerged (${change.toExponential(2)})`);
    if (steps > 1) t.equal(maxRelError(outs[1]!, outs[0]!), 0, `${label}: step 1, on the step-0 assignment, repeats step 0's output for the same input`);
    const merging = unet.sites.filter((s) => s.downsample === 1).map((s) => s.name);
    const states = merging.map((name) => hooks.stateOf(name) as TomaBlockState);
    t.ok(states.every((s) => s.computations === 1 && s.computedAt === 0), `${label}: ${merging.length} full-resolution blocks merged, computed once`);
    t.ok(unet.sites.filter((s) => s.downsample > 1).every((s) => hooks.stateOf(s.name) === null), `${label}: deeper blocks untouched`);
    hooks.dispose();
  }

  t.teardown(async () => {
    unet.dispose();
    await golden.dispose();
  });
});

import t from 'tap';
import { readFileSync } from 'node:fs';
import { testRuntime } from '../support/runtime.js';
import { fromRoot } from '../../runtime/paths.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { Runtime } from '../../runtime/runtime.js';
import { gridPartition, tomesdGridSplit } from '../../merge/partition.js';
import { countAtLeastThreshold, disposePartition, matchBipartite, planMerge } from '../../merge/bipartite.js';
import { CaToMePlugin, type CaToMeBlockState } from '../../merge/catome.js';
import { CA_TOME_SCHEDULES, checkpointSteps } from '../../merge/schedules.js';
import { createMergePlugin } from '../../merge/index.js';
import { tomesdPlan } from '../../merge/tomesd-blocks.js';
import { AttentionHooks, SUBLAYERS, type AttentionPlugin, type BlockCall, type BlockPlace, type BlockPlan, type Evaluation } from '../../unet/hooks.js';
import { referenceBestMatch } from '../kernels/merge-reference.js';
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

/** CA-ToMe's r computed on the CPU (f64 cosine similarities, no_rand grid): max over rows of #sources ≥ threshold. */
function cpuCount(x: Float32Array, shape: readonly number[], width: number, height: number, threshold: number): { r: number; margin: number } {
  const { dst, src } = tomesdGridSplit(width, height, { sx: 2, sy: 2 });
  const { similarity } = referenceBestMatch(x, shape, () => src, () => dst);
  const thr = Math.fround(threshold);
  let r = 0;
  let margin = Infinity;
  for (let b = 0; b < shape[0]!; b++) {
    const row = similarity.slice(b * src.length, (b + 1) * src.length);
    r = Math.max(r, row.filter((s) => s >= thr).length);
    for (const s of row) margin = Math.min(margin, Math.abs(s - thr));
  }
  return { r, margin };
}

/** The first `rows` rows of every batch row of a [B, N, C] tensor read back. */
function leadingRows(values: Float32Array, [batch, tokens, channels]: readonly number[], rows: number): Float32Array {
  return Float32Array.from(Array.from({ length: batch }, (_, b) => [...values.subarray(b * tokens * channels, (b * tokens + rows) * channels)]).flat());
}

t.test('ca_tome goldens: r on the GPU, merged (capacity) / unmerged, and x_next through the cached pairs', async (t) => {
  const rt = await testRuntime();
  const golden = await openMergeGolden();
  for (const { width, height } of MERGE_CASES) {
    const grid = `w${width}h${height}`;
    const x = rt.keep(await golden.upload(rt, `${grid}.x`));
    const [batch, tokens, channels] = x.shape as [number, number, number];
    const partition = gridPartition(rt, width, height, { sx: 2, sy: 2 });
    const match = matchBipartite(rt, x, partition);
    for (const threshold of THRESHOLDS) {
      const key = `${grid}.catome${threshold}`;
      const count = countAtLeastThreshold(rt, match, threshold);
      const counts = await rt.readU32(count.tensor); // the test reads it; the plug-in never does
      const r = counts[batch]!;
      t.equal(r, expectedCount(width, height, threshold), `${key}: r`);
      t.equal(counts[batch + 1], tokens - r, `${key}: merged length N − r beside it`);
      t.equal(r, cpuCount(await golden.read(`${grid}.x`), x.shape, width, height, threshold).r, `${key}: r as the CPU counts it`);
      const xNext = await golden.upload(rt, `${key}.x_next`);
      for (const path of ['gpu', 'host'] as const) {
        const outs = rt.tidy(() => {
          const plan = planMerge(rt, match, path === 'gpu' ? count : r);
          const merged = plan.merge(x);
          const mergedNext = plan.merge(xNext);
          return { merged, unmerged: plan.unmerge(merged), merged_next_cached: mergedNext, unmerged_next_cached: plan.unmerge(mergedNext) };
        });
        for (const [name, tensor] of Object.entries(outs) as [string, Tensor][]) {
          const want = golden.shape(`${key}.${name}`);
          let got = await rt.read(tensor);
          if (path === 'gpu' && name.startsWith('merged')) {
            // fixed capacity: N rows, the merged sequence first and zeros after
            t.same(tensor.shape, [batch, tokens, channels], `${key}.${name} (r on the GPU): capacity`);
            const tail = got.filter((_, e) => Math.floor(e / channels) % tokens >= tokens - r);
            t.ok(tail.every((v) => v === 0), `${key}.${name} (r on the GPU): zeros past N − r`);
            got = leadingRows(got, tensor.shape, tokens - r);
          } else {
            t.same(tensor.shape, want, `${key}.${name} (r on the ${path === 'gpu' ? 'GPU' : 'host'}): shape`);
          }
          const err = maxAbsDiff(got, await golden.read(`${key}.${name}`));
          t.ok(err <= 1e-5, `${key}.${name} (r on the ${path === 'gpu' ? 'GPU' : 'host'}): max abs error ${err.toExponential(2)}`);
          tensor.dispose();
        }
      }
      count.tensor.dispose();
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

t.test('the CA-ToMe plug-in: fresh r at checkpoints, pairs and r cached between, nothing read back', async (t) => {
  const rt = await testRuntime();
  const golden = await openMergeGolden();
  const x = rt.keep(await golden.upload(rt, 'w16h16.x'));
  const xNext = rt.keep(await golden.upload(rt, 'w16h16.catome0.7.x_next'));
  const zeros = rt.keep(rt.zeros(x.shape, 'f32'));
  const plugin = createMergePlugin(rt, { method: 'catome', threshold: 0.7, checkpoints: [0, 2], useRand: false }) as CaToMePlugin;
  t.notOk('resolveMergeCounts' in plugin, 'no host sync to await');
  const state = plugin.createBlockState();
  const call = (input: Tensor, step: number) => plugin.planBlock(input, { place, evaluation: evaluation(step), state });
  /** merged (capacity, N rows) and unmergeAdd(merged, 0) of one block call, read back. */
  const run = async (step: number, input: Tensor) => {
    const outs = rt.tidy(() => {
      const plan = call(input, step);
      t.same(SUBLAYERS.filter((s) => plan?.[s]), ['attn1'], `step ${step}: attn1 wrapped`);
      const wrap = plan!.attn1!;
      t.ok(wrap.validTokens?.tensor === state.count?.tensor, `step ${step}: the wrap bounds attention by the block's GPU count`);
      const merged = wrap.merge!(input);
      t.same(merged.shape, input.shape, `step ${step}: merged keeps the capacity [B, N, C]`);
      return [merged, wrap.unmergeAdd!(merged, zeros)];
    });
    const values = await Promise.all(outs.map((o) => rt.read(o)));
    outs.forEach((o) => o.dispose());
    const counts = await rt.readU32(state.count!.tensor);
    return { merged: values[0]!, unmerged: values[1]!, r: counts[2]!, valid: counts[3]! };
  };
  const closeTo = (got: Float32Array, name: string) => golden.read(name).then((want) => maxAbsDiff(got, want) <= 1e-5);

  // checkpoint 0: pairs and r from x, used at once (ca_tome's r = 185)
  const first = await run(0, x);
  t.same([first.r, first.valid], [185, 256 - 185], 'checkpoint 0: its own r, counted on the GPU');
  t.ok(await closeTo(leadingRows(first.merged, x.shape, 256 - 185), 'w16h16.catome0.7.merged'), 'checkpoint 0: merged rows match ca_tome');
  t.ok(await closeTo(first.unmerged, 'w16h16.catome0.7.unmerged'), 'checkpoint 0: unmerged matches ca_tome');
  const cachedCount = state.count;
  // step 1: x_next through the pairs and r cached from x (ca_tome's cached path)
  const cached = await run(1, xNext);
  t.equal(state.count, cachedCount, 'step 1: the cached count, not a new one');
  t.ok(await closeTo(leadingRows(cached.merged, x.shape, 256 - 185), 'w16h16.catome0.7.merged_next_cached'), 'step 1: merged_next_cached');
  t.ok(await closeTo(cached.unmerged, 'w16h16.catome0.7.unmerged_next_cached'), 'step 1: unmerged_next_cached');
  // checkpoint 2 on x_next: its own fresh r, as the CPU counts it from x_next, merged as a host-r plan would
  const xNextValues = await golden.read('w16h16.catome0.7.x_next');
  const cpu = cpuCount(xNextValues, x.shape, 16, 16, 0.7);
  t.ok(cpu.margin > 1e-5, `no similarity within 1e-5 of the threshold (closest ${cpu.margin.toExponential(2)})`);
  const fresh = await run(2, xNext);
  t.not(state.count, cachedCount, 'checkpoint 2: a new count');
  t.equal(fresh.r, cpu.r, `checkpoint 2: r = ${fresh.r}, the CPU's count from x_next`);
  const hostPlan = rt.tidy(() => {
    const partition = gridPartition(rt, 16, 16, { sx: 2, sy: 2 });
    const plan = planMerge(rt, matchBipartite(rt, xNext, partition), cpu.r);
    const merged = plan.merge(xNext);
    return [merged, plan.unmergeAdd(merged, zeros)];
  });
  const [hostMerged, hostUnmerged] = await Promise.all(hostPlan.map((o) => rt.read(o)));
  hostPlan.forEach((o) => o.dispose());
  t.equal(maxAbsDiff(leadingRows(fresh.merged, x.shape, 256 - cpu.r), hostMerged!), 0, 'checkpoint 2: merged rows = a host-r plan with that r');
  t.equal(maxAbsDiff(fresh.unmerged, hostUnmerged!), 0, 'checkpoint 2: unmerged = the host-r plan');
  // threshold ≥ 1 merges nothing
  const off = new CaToMePlugin(rt, { threshold: 1 });
  t.equal(off.planBlock(x, { place, evaluation: evaluation(0), state: off.createBlockState() }), undefined, 'threshold 1: no merge');
  off.dispose();

  plugin.disposeBlockState(state);
  t.same([state.match, state.count, state.plan], [null, null, null], 'block state released');
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
  t.ok(state.match && state.partition && state.ownsPartition && state.count && state.plan, 'random split owned by the block, count and plan cached');
  const counts = await rt.readU32(state.count!.tensor);
  t.equal(counts[2]! + counts[3]!, 256, 'r and N − r');
  plugin.dispose();
  t.same([state.match, state.partition, state.count], [null, null, null], 'released');
  x.dispose();
});

t.setTimeout(900_000);

/** Forwards to a plug-in and keeps a copy of every merging block's input (for CPU counts). */
class InputRecorder implements AttentionPlugin<unknown> {
  readonly inputs = new Map<string, { place: BlockPlace; x: Tensor }>();

  constructor(
    private readonly rt: Runtime,
    readonly inner: AttentionPlugin<unknown>,
  ) {}

  createBlockState(p: BlockPlace): unknown {
    return this.inner.createBlockState?.(p);
  }

  planBlock(x: Tensor, call: BlockCall<unknown>): BlockPlan | undefined {
    const plan = this.inner.planBlock?.(x, call);
    if (plan && !this.inputs.has(call.place.name)) {
      const copy = this.rt.keep(this.rt.empty(x.shape, x.dtype));
      this.rt.copy(x, copy);
      this.inputs.set(call.place.name, { place: call.place, x: copy });
    }
    return plan;
  }

  disposeBlockState(s: unknown, p: BlockPlace): void {
    this.inner.disposeBlockState?.(s, p);
  }

  dispose(): void {
    for (const { x } of this.inputs.values()) x.dispose();
    this.inner.dispose?.();
  }
}

t.test('the tiny U-Net under CA-ToMe: a checkpoint evaluation merges with its own r', { timeout: 900_000 }, async (t) => {
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
  // a threshold that gives each merging block its own r, well inside 0..n_src
  const threshold = 0.5;
  // attn1 only (the defaults), then every sublayer: cross-attention skips query rows past the
  // count, the feed-forward runs over the capacity
  for (const wraps of [{}, { mergeCrossAttn: true, mergeMlp: true }]) {
    const label = Object.keys(wraps).length ? 'attn1, attn2 and ff merged' : 'attn1 merged';
    const plugin = new CaToMePlugin(rt, { threshold, checkpoints: [0, 2], useRand: false, ...wraps });
    const recorder = new InputRecorder(rt, plugin);
    const hooks = new AttentionHooks(recorder);
    const caTome = await forward(hooks, 0);
    t.ok(caTome.every(Number.isFinite), `${label}: finite`);
    t.ok(maxRelError(caTome, reference) > 1e-4, `${label}: the checkpoint evaluation merges (${maxRelError(caTome, reference).toExponential(2)} from unmerged)`);
    const merging = unet.sites.filter((s) => (hooks.stateOf(s.name) as CaToMeBlockState | undefined)?.plan);
    t.same(merging.map((s) => s.downsample), merging.map(() => 1), `${label}: only full-resolution blocks merge`);
    t.ok(merging.length > 0, `${label}: ${merging.length} blocks merge`);

    // each block's r: the GPU's (read here, by the test) and the CPU's from the same block input
    const rs = new Map<string, number>();
    for (const [name, { place, x }] of recorder.inputs) {
      const state = hooks.stateOf(name) as CaToMeBlockState;
      const gpu = (await rt.readU32(state.count!.tensor))[x.shape[0]!]!;
      const cpu = cpuCount(await rt.read(x), x.shape, place.width, place.height, threshold);
      t.equal(gpu, cpu.r, `${label}: ${name}: r = ${gpu} from its own input (CPU margin ${cpu.margin.toExponential(1)})`);
      rs.set(name, cpu.r);
    }
    // the same evaluation through host-r plans (exact shapes, as ToMe runs) with those r
    const hostR: AttentionPlugin<unknown> = {
      planBlock: (x, { place }) => {
        const r = rs.get(place.name);
        if (r === undefined) return undefined;
        const match = matchBipartite(rt, x, gridPartition(rt, place.width, place.height, plugin.options));
        return tomesdPlan(planMerge(rt, match, r), plugin.options);
      },
    };
    const err = maxRelError(caTome, await forward(new AttentionHooks(hostR), 0));
    t.ok(err <= 1e-5, `${label}: checkpoint evaluation = host-r plans with the fresh r (max rel error ${err.toExponential(2)})`);

    if (Object.keys(wraps).length === 0) {
      // evaluation 1: cached pairs and r, the same as host-r plans on the cached pairs
      const cached = await forward(hooks, 1);
      const hostCached: AttentionPlugin<unknown> = {
        planBlock: (_x, { place }) => {
          const r = rs.get(place.name);
          const match = (hooks.stateOf(place.name) as CaToMeBlockState | undefined)?.match;
          return r === undefined || !match ? undefined : tomesdPlan(planMerge(rt, match, r), plugin.options);
        },
      };
      const errCached = maxRelError(cached, await forward(new AttentionHooks(hostCached), 1));
      t.ok(errCached <= 1e-5, `${label}: cached evaluation = host-r plans on the cached pairs (max rel error ${errCached.toExponential(2)})`);
    }
    hooks.dispose();
  }
  t.teardown(async () => {
    unet.dispose();
    await golden.dispose();
  });
});

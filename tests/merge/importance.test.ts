import t from 'tap';
import type tap from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError, seededValues } from '../support/compare.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import { ImportancePlugin, IMPORTANCE_DEFAULTS } from '../../merge/importance.js';
import { importanceCounts, planImportanceMerge, rankImportance } from '../../merge/importance-split.js';
import { ToMePlugin } from '../../merge/tome.js';
import { createMergePlugin } from '../../merge/index.js';
import { AttentionHooks, type BlockPlace, type Evaluation } from '../../unet/hooks.js';
import { loadTinyUNet, openUNetGolden } from '../unet/fixture.js';
import { referenceRank } from '../kernels/merge-reference.js';
import { referenceGuidanceMagnitude, referencePool } from '../kernels/importance-reference.js';

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

function evaluation(step: number, latentWidth: number, latentHeight: number, images = 1, guidance: 'cfg' | 'none' = 'cfg'): Evaluation {
  const size = guidance === 'cfg' ? 2 * images : images;
  return { step, timestep: 999 - step, batch: { size, images, guidance }, latentWidth, latentHeight };
}

t.test('counts are exact: N − r tokens remain, the pool grows to hold every forced merge', async (t) => {
  const c = importanceCounts(117, IMPORTANCE_DEFAULTS);
  t.same(c, { tokens: 117, r: 58, pool: 88, dst: 44, forced: 29, independent: 15 });
  for (const tokens of [1, 4, 117, 256, 4096]) {
    for (const ratio of [0, 0.3, 0.5, 0.9]) {
      for (const [poolFraction, dstFraction] of [[0.75, 0.25], [0.1, 0.5], [1, 0.01], [0.5, 1]] as const) {
        const k = importanceCounts(tokens, { ratio, poolFraction, dstFraction });
        const ok =
          k.r === Math.floor(tokens * ratio) &&
          k.dst >= 1 && k.dst <= k.pool && k.pool <= tokens &&
          k.forced === tokens - k.pool && k.forced <= k.r &&
          k.independent === tokens - k.r - k.dst && k.independent >= 0;
        if (!ok) t.fail(`N ${tokens} ratio ${ratio} pool ${poolFraction} dst ${dstFraction}: ${JSON.stringify(k)}`);
      }
    }
  }
  t.throws(() => new ImportancePlugin(null as unknown as Runtime, { ratio: 1 }), /ratio/);
  t.throws(() => new ImportancePlugin(null as unknown as Runtime, { poolFraction: 0 }), /poolFraction/);
  t.throws(() => new ImportancePlugin(null as unknown as Runtime, { similarity: 'half' as never }), /similarity = half must be 'fast' or 'exact'/);
});

interface Readback {
  dst: Uint32Array;
  src: Uint32Array;
  positions: Uint32Array;
  similarity: Float32Array;
  merged: Float32Array;
  unmerged: Float32Array;
}

async function mergeOnce(t: Pick<typeof tap, 'same'>, rt: Runtime, x: Tensor, rank: Tensor, seed: number): Promise<Readback> {
  const counts = importanceCounts(x.shape[1]!, IMPORTANCE_DEFAULTS);
  const kept = rt.tidy(() => {
    const plan = planImportanceMerge(rt, x, rank, counts, seed);
    const merged = plan.merge(x);
    const p = plan.match.partition;
    return [p.dst, p.src, plan.positions, plan.match.similarity, merged, plan.unmerge(merged)];
  });
  const [dst, src, positions, similarity, merged, unmerged] = kept as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const out: Readback = {
    dst: await rt.readU32(dst),
    src: await rt.readU32(src),
    positions: await rt.readU32(positions),
    similarity: await rt.read(similarity),
    merged: await rt.read(merged),
    unmerged: await rt.read(unmerged),
  };
  t.same(merged.shape, [x.shape[0], x.shape[1]! - counts.r, x.shape[2]], 'merged shape [B, N − r, C]');
  for (const k of kept) k.dispose();
  return out;
}

t.test('one block: pool, destinations, forced and independent tokens, group means, determinism', async (t) => {
  const rt = await testRuntime();
  const [images, latentH, latentW, factor, channels] = [2, 25, 17, 2, 24];
  const [height, width] = [Math.ceil(latentH / factor), Math.ceil(latentW / factor)];
  const tokens = width * height;
  const batch = 2 * images;
  const map = seededValues(images * latentH * latentW, 17, 0, 1);
  const xs = seededValues(batch * tokens * channels, 5);
  // the two CFG halves of an image differ in x, but share the importance and so the split
  const x = rt.keep(rt.upload(xs, [batch, tokens, channels], 'f32'));
  const rank = rt.keep(rt.tidy(() => rankImportance(rt, rt.upload(map, [images, latentH, latentW], 'f32'), factor)));
  const wantRank = referenceRank(referencePool(map, [images, latentH, latentW], factor), images, tokens).rank;
  t.same([...(await rt.readU32(rank))], wantRank, 'importance rank = rank of the TS-pooled map');

  const c = importanceCounts(tokens, IMPORTANCE_DEFAULTS);
  const got = await mergeOnce(t, rt, x, rank, 1234);
  const nSrc = tokens - c.dst;
  const mergedTokens = tokens - c.r;
  for (let b = 0; b < batch; b++) {
    const i = b % images;
    const inPool = (tok: number) => wantRank[i * tokens + tok]! < c.pool;
    const dst = [...got.dst.subarray(b * c.dst, (b + 1) * c.dst)];
    const src = [...got.src.subarray(b * nSrc, (b + 1) * nSrc)];
    const pos = got.positions.subarray(b * tokens, (b + 1) * tokens);
    t.ok(dst.every(inPool), `row ${b}: ${c.dst} destinations, all in the pool`);
    if (b >= images) {
      t.same(dst, [...got.dst.subarray((b - images) * c.dst, (b - images + 1) * c.dst)], `row ${b}: same destinations as its other CFG half`);
      t.same(src, [...got.src.subarray((b - images) * nSrc, (b - images + 1) * nSrc)], `row ${b}: same sources as its other CFG half`);
    }
    // merged rows: [independent pool sources, destinations]; a token is merged when it maps to a destination row
    const independentRows = mergedTokens - c.dst;
    const independent = src.filter((tok) => pos[tok]! < independentRows);
    t.equal(independent.length, c.independent, `row ${b}: ${c.independent} independent tokens`);
    t.ok(independent.every(inPool), `row ${b}: independent tokens are pool tokens`);
    t.ok(src.filter((tok) => !inPool(tok)).every((tok) => pos[tok]! >= independentRows), `row ${b}: every token outside the pool is merged`);
    // the pool sources merged are the best-matching ones
    const sim = got.similarity.subarray(b * nSrc, (b + 1) * nSrc);
    let worstMerged = Infinity;
    let bestKept = -Infinity;
    src.forEach((tok, k) => {
      if (!inPool(tok)) return;
      if (pos[tok]! >= independentRows) worstMerged = Math.min(worstMerged, sim[k]!);
      else bestKept = Math.max(bestKept, sim[k]!);
    });
    t.ok(worstMerged >= bestKept, `row ${b}: merged pool sources match at least as well (${worstMerged.toFixed(3)} ≥ ${bestKept.toFixed(3)})`);
    // every merged row is the mean of its group; identity on independent tokens; mass preserved
    const sums = new Float64Array(mergedTokens * channels);
    const counts = new Uint32Array(mergedTokens);
    for (let tok = 0; tok < tokens; tok++) {
      counts[pos[tok]!]!++;
      for (let ch = 0; ch < channels; ch++) sums[pos[tok]! * channels + ch] += xs[(b * tokens + tok) * channels + ch]!;
    }
    t.ok(counts.every((n) => n >= 1), `row ${b}: every merged row has a group`);
    let meanErr = 0;
    let mass = 0;
    let total = 0;
    const m = got.merged.subarray(b * mergedTokens * channels, (b + 1) * mergedTokens * channels);
    for (let row = 0; row < mergedTokens; row++) {
      for (let ch = 0; ch < channels; ch++) {
        const e = row * channels + ch;
        meanErr = Math.max(meanErr, Math.abs(m[e]! - sums[e]! / counts[row]!));
        mass += m[e]! * counts[row]!;
        total += sums[e]!;
      }
    }
    t.ok(meanErr <= 1e-6, `row ${b}: merged rows are group means (max err ${meanErr.toExponential(2)})`);
    t.ok(Math.abs(mass - total) <= 1e-4 * tokens, `row ${b}: Σ mean·count = Σ x (${mass.toFixed(4)} vs ${total.toFixed(4)})`);
    let identity = 0;
    let gather = 0;
    for (let tok = 0; tok < tokens; tok++) {
      for (let ch = 0; ch < channels; ch++) {
        const u = got.unmerged[(b * tokens + tok) * channels + ch]!;
        gather = Math.max(gather, Math.abs(u - m[pos[tok]! * channels + ch]!));
        if (pos[tok]! < independentRows) identity = Math.max(identity, Math.abs(u - xs[(b * tokens + tok) * channels + ch]!));
      }
    }
    t.equal(identity, 0, `row ${b}: unmerge∘merge is the identity on independent tokens`);
    t.equal(gather, 0, `row ${b}: merged tokens take their group's mean back`);
  }

  const again = await mergeOnce(t, rt, x, rank, 1234);
  t.same([...again.merged], [...got.merged], 'same seed: bit-identical merge');
  t.same([...again.dst], [...got.dst], 'same seed: same destinations');
  const other = await mergeOnce(t, rt, x, rank, 1235);
  t.not([...other.dst].join(), [...got.dst].join(), 'another seed: other destinations');
  x.dispose();
  rank.dispose();
});

t.test('the plug-in: ToMe before any guidance, then importance from the kept CFG magnitude', async (t) => {
  const rt = await testRuntime();
  const [width, height, channels] = [13, 9, 32];
  const x = rt.keep(rt.upload(seededValues(2 * width * height * channels, 3), [2, width * height, channels], 'f32'));
  const options = { ratio: 0.5, seed: 7 };
  const plugin = new ImportancePlugin(rt, options);
  const tome = new ToMePlugin(rt, options);
  const run = async (p: ImportancePlugin | ToMePlugin, step: number, ev = evaluation(step, width, height)) => {
    const out = rt.tidy(() => {
      const plan = p.planBlock(x, { place: place(width, height, channels), evaluation: ev, state: undefined })!;
      return plan.attn1!.unmergeAdd!(plan.attn1!.merge!(x), rt.zeros(x.shape, 'f32'));
    });
    const v = await rt.read(out);
    out.dispose();
    return v;
  };
  t.same([...(await run(plugin, 0))], [...(await run(tome, 0))], 'first evaluation: the ToMe plug-in output, bit for bit');
  t.equal(plugin.fallbackPlans, 1);

  const eps = seededValues(2 * 4 * height * width, 11);
  rt.tidy(() => plugin.endEvaluation(evaluation(0, width, height), rt.upload(eps, [2, 4, height, width], 'f32')));
  const map = await rt.read(plugin.guidanceMap!);
  t.ok(maxRelError(map, referenceGuidanceMagnitude(eps, [2, 4, height, width])) <= 1e-5, 'kept map = ‖ε_c − ε_u‖');

  const second = await run(plugin, 1);
  t.equal(plugin.importancePlans, 1, 'the next evaluation merges by importance');
  t.ok(second.every(Number.isFinite), 'finite');
  t.ok(maxRelError(second, await run(tome, 1)) > 1e-3, 'and differs from ToMe');
  t.same([...(await run(plugin, 1))], [...second], 'deterministic');
  await run(plugin, 0);
  t.equal(plugin.fallbackPlans, 2, 'a step not after the map (a new run) falls back to ToMe');
  await run(plugin, 2, evaluation(2, width, height, 2));
  t.equal(plugin.fallbackPlans, 3, 'a map of another batch layout falls back to ToMe');
  rt.tidy(() => plugin.endEvaluation(evaluation(2, width, height, 2, 'none'), rt.zeros([2, 4, height, width], 'f32')));
  t.equal(plugin.guidanceMap, null, 'an evaluation without CFG leaves no map');
  await run(plugin, 3);
  t.equal(plugin.fallbackPlans, 4, 'so the next one falls back to ToMe');
  x.dispose();
  plugin.dispose();
  tome.dispose();
});

t.setTimeout(900_000);

t.test('the tiny U-Net under CFG for 3 evaluations', { timeout: 900_000 }, async (t) => {
  const rt = await testRuntime();
  const golden = await openUNetGolden(rt);
  const unet = await loadTinyUNet(rt, 'f32');
  const timesteps = [981, 961, 941];
  const run = async (evaluations: number, hooks?: AttentionHooks<unknown>) => {
    const outs: Float32Array[] = [];
    for (let step = 0; step < evaluations; step++) {
      const out = unet.forward(golden.sample, timesteps[step]!, golden.context, { step, hooks, guidance: 'cfg' });
      outs.push(await rt.read(out));
      out.dispose();
    }
    hooks?.dispose();
    return outs;
  };
  const reference = await run(3);
  // the second evaluation has a map: ratio 0 must still leave every block alone
  const zero = await run(2, new AttentionHooks(createMergePlugin(rt, { method: 'importance', ratio: 0 })));
  zero.forEach((z, i) => t.equal(maxRelError(z, reference[i]!), 0, `ratio 0: evaluation ${i} equals the unmerged U-Net exactly`));
  const plugin = new ImportancePlugin(rt, { seed: 1 });
  const merged = await run(3, new AttentionHooks(plugin));
  t.ok(plugin.fallbackPlans > 0 && plugin.importancePlans === 2 * plugin.fallbackPlans, `ToMe in evaluation 0 (${plugin.fallbackPlans} blocks), importance in 1 and 2 (${plugin.importancePlans})`);
  merged.forEach((m, i) => {
    t.ok(m.every(Number.isFinite), `evaluation ${i}: finite`);
    const change = maxRelError(m, reference[i]!);
    t.ok(change > 1e-4, `evaluation ${i}: differs from unmerged (max rel ${change.toExponential(2)})`);
  });
  t.teardown(async () => {
    unet.dispose();
    await golden.dispose();
  });
});

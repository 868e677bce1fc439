import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError } from '../support/compare.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import { matmul } from '../../kernels/matmul.js';
import { add } from '../../kernels/binary.js';
import { AttentionHooks, type AttentionPlugin, type BlockPlace, type BlockPlan, type Evaluation, type TokenMap } from '../../unet/hooks.js';
import { loadTinyUNet, openUNetGolden, UNET_TOLERANCE } from './fixture.js';

/** [rows, cols] f32 matrix with ones at (r, pick(r)) — a gather as a GEMM. */
function selection(rt: Runtime, rows: number, cols: number, pick: (r: number) => number[]): Tensor {
  const m = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const picked = pick(r);
    for (const c of picked) m[r * cols + c] = 1 / picked.length;
  }
  return rt.upload(m, [rows, cols], 'f32');
}

/** A token map applying the shared matrix to every batch row: [B, N, C] → [B, rows, C]. */
const byMatrix =
  (rt: Runtime, m: Tensor): TokenMap =>
  (x) =>
    matmul(rt, m, x);

const permute = (n: number, seed: number) => (r: number) => [(r * seed + 3) % n];

// One U-Net evaluation takes seconds on lavapipe, and the first compiles every pipeline.
t.setTimeout(900_000);

t.test('hooks see every transformer block and can wrap its sublayers', { timeout: 900_000 }, async (t) => {
  const rt = await testRuntime();
  const golden = await openUNetGolden(rt);
  const unet = await loadTinyUNet(rt, 'f32');
  const run = (hooks?: AttentionHooks<unknown>, step = 0) => unet.forward(golden.sample, 981, golden.context, { step, hooks, guidance: 'cfg' });
  const runRead = async (hooks?: AttentionHooks<unknown>, step = 0) => {
    const out = run(hooks, step);
    const values = await rt.read(out);
    out.dispose();
    return values;
  };
  const reference = await runRead();
  t.ok(maxRelError(reference, await golden.read('t981.out')) <= UNET_TOLERANCE.f32, 'reference matches diffusers');

  t.test('a recording plug-in sees the places in order and changes nothing', async (t) => {
    const seen: { place: BlockPlace; evaluation: Evaluation; shape: readonly number[] }[] = [];
    const evaluations: Evaluation[] = [];
    const recorder: AttentionPlugin<{ calls: number }> = {
      beginEvaluation: (e) => void evaluations.push(e),
      createBlockState: () => ({ calls: 0 }),
      planBlock(x, call) {
        call.state.calls++;
        seen.push({ place: call.place, evaluation: call.evaluation, shape: [...x.shape] });
        return undefined;
      },
    };
    const hooks = new AttentionHooks(recorder);
    const out = await runRead(hooks, 7);
    t.equal(maxRelError(out, reference), 0, 'output unchanged');
    t.same(evaluations, [{ step: 7, timestep: 981, batch: { size: 2, images: 1, guidance: 'cfg' }, latentHeight: 16, latentWidth: 16 }]);
    const expected: [string, string, number, number, number, number, number][] = [
      // name, stage, blockIndex, attentionIndex, depth, side, channels
      ['down_blocks.0.attentions.0.transformer_blocks.0', 'down', 0, 0, 0, 16, 32],
      ['down_blocks.0.attentions.1.transformer_blocks.0', 'down', 0, 1, 0, 16, 32],
      ['down_blocks.1.attentions.0.transformer_blocks.0', 'down', 1, 0, 1, 8, 32],
      ['down_blocks.1.attentions.1.transformer_blocks.0', 'down', 1, 1, 1, 8, 32],
      ['down_blocks.2.attentions.0.transformer_blocks.0', 'down', 2, 0, 2, 4, 64],
      ['down_blocks.2.attentions.1.transformer_blocks.0', 'down', 2, 1, 2, 4, 64],
      ['mid_block.attentions.0.transformer_blocks.0', 'mid', 0, 0, 3, 2, 64],
      ['up_blocks.1.attentions.0.transformer_blocks.0', 'up', 1, 0, 2, 4, 64],
      ['up_blocks.1.attentions.1.transformer_blocks.0', 'up', 1, 1, 2, 4, 64],
      ['up_blocks.1.attentions.2.transformer_blocks.0', 'up', 1, 2, 2, 4, 64],
      ['up_blocks.2.attentions.0.transformer_blocks.0', 'up', 2, 0, 1, 8, 32],
      ['up_blocks.2.attentions.1.transformer_blocks.0', 'up', 2, 1, 1, 8, 32],
      ['up_blocks.2.attentions.2.transformer_blocks.0', 'up', 2, 2, 1, 8, 32],
      ['up_blocks.3.attentions.0.transformer_blocks.0', 'up', 3, 0, 0, 16, 32],
      ['up_blocks.3.attentions.1.transformer_blocks.0', 'up', 3, 1, 0, 16, 32],
      ['up_blocks.3.attentions.2.transformer_blocks.0', 'up', 3, 2, 0, 16, 32],
    ];
    t.same(
      seen.map((s) => s.place),
      expected.map(([name, stage, blockIndex, attentionIndex, depth, side, channels], ordinal) => ({
        name,
        stage,
        blockIndex,
        attentionIndex,
        transformerIndex: 0,
        ordinal,
        depth,
        downsample: 2 ** depth,
        channels,
        heads: 8,
        headDim: channels / 8,
        width: side,
        height: side,
        tokens: side * side,
        contextTokens: 77,
      })),
    );
    t.same(
      seen.map((s) => s.shape),
      expected.map(([, , , , , side, channels]) => [2, side * side, channels]),
      'block inputs are [B, N, C]',
    );
    t.same(unet.sites.map((s) => s.name), expected.map((e) => e[0]), 'UNet.sites lists the same blocks');
    t.ok(seen.every((s) => s.evaluation === evaluations[0]));
    t.equal(hooks.blockCount, 16);
    t.same(hooks.stateOf('mid_block.attentions.0.transformer_blocks.0'), { calls: 1 });
    hooks.dispose();
    t.throws(() => run(hooks), /after dispose/);
  });

  t.test('identity merge/unmerge (plain, fused unmergeAdd, keyValues) leaves the output unchanged', async (t) => {
    const identity: TokenMap = (x) => x;
    const plans: Record<string, BlockPlan> = {
      plain: { attn1: { merge: identity, unmerge: identity }, attn2: { merge: identity, unmerge: identity }, ff: { merge: identity, unmerge: identity } },
      fused: {
        attn1: { merge: identity, unmergeAdd: (y, r) => add(rt, y, r) },
        attn2: { unmergeAdd: (y, r) => add(rt, y, r) },
        ff: { merge: identity, unmergeAdd: (y, r) => add(rt, y, r) },
      },
      keyValues: { attn1: { keyValues: identity } },
    };
    for (const [label, plan] of Object.entries(plans)) {
      const hooks = new AttentionHooks({ planBlock: () => plan });
      const out = await runRead(hooks);
      const err = maxRelError(out, reference);
      t.ok(err <= 1e-6, `${label}: max rel error vs unhooked ${err.toExponential(2)}`);
      hooks.dispose();
    }
  });

  t.test('token permutations as merge/unmerge (and separate key/value permutations) leave the output unchanged', async (t) => {
    // Self-attention, cross-attention and the feed-forward are equivariant under a token
    // permutation P: unmerge(s(merge(x))) = Pᵀ s(P x) = s(x). Misplaced merges or unmerges would not cancel.
    const matrices = new Map<number, { p: Tensor; pt: Tensor; kv: Tensor }>();
    const forTokens = (n: number) => {
      let m = matrices.get(n);
      if (!m) {
        const p = permute(n, n === 4 ? 3 : 5);
        const inverse = (r: number) => [Array.from({ length: n }, (_, c) => c).find((c) => p(c)[0] === r)!];
        m = {
          p: rt.keep(selection(rt, n, n, p)),
          pt: rt.keep(selection(rt, n, n, inverse)),
          kv: rt.keep(selection(rt, n, n, permute(n, n === 4 ? 3 : 7))),
        };
        matrices.set(n, m);
      }
      return m;
    };
    const plugin: AttentionPlugin = {
      planBlock(_x, { place }) {
        const m = forTokens(place.tokens);
        const wrap = { merge: byMatrix(rt, m.p), unmerge: byMatrix(rt, m.pt) };
        return { attn1: { ...wrap, keyValues: byMatrix(rt, m.kv) }, attn2: wrap, ff: { merge: wrap.merge, unmergeAdd: (y, r) => add(rt, matmul(rt, m.pt, y), r) } };
      },
    };
    const hooks = new AttentionHooks(plugin);
    const err = maxRelError(await runRead(hooks), reference);
    t.ok(err <= 1e-5, `max rel error vs unhooked ${err.toExponential(2)}`);
    hooks.dispose();
    for (const m of matrices.values()) for (const x of Object.values(m)) x.dispose();
  });

  t.test('a token-reducing plug-in: pairs averaged, state across evaluations, ε_cond − ε_uncond, dispose', async (t) => {
    interface PairState {
      merge: Tensor;
      unmerge: Tensor;
      uses: number;
    }
    const disposedStates: string[] = [];
    const guidance: Float32Array[] = [];
    let lastGuidance: Tensor | null = null;
    const plugin: AttentionPlugin<PairState | null> = {
      // like tomesd's max_downsample = 1: only full-resolution blocks merge
      createBlockState: (place) =>
        place.downsample === 1
          ? {
              merge: rt.keep(selection(rt, place.tokens / 2, place.tokens, (r) => [2 * r, 2 * r + 1])),
              unmerge: rt.keep(selection(rt, place.tokens, place.tokens / 2, (r) => [Math.floor(r / 2)])),
              uses: 0,
            }
          : null,
      planBlock(_x, { state }) {
        if (!state) return undefined;
        state.uses++;
        const wrap = { merge: byMatrix(rt, state.merge), unmerge: byMatrix(rt, state.unmerge) };
        return { attn1: wrap, ff: wrap };
      },
      endEvaluation(evaluation, noisePred) {
        t.same(noisePred.shape, [2, 4, 16, 16]);
        t.equal(evaluation.batch.guidance, 'cfg');
        lastGuidance?.dispose();
        // rows [uncond, cond]: (−1, +1) · noisePred as [2, 1024]
        const signs = rt.upload([-1, 1], [1, 2], 'f32');
        lastGuidance = rt.keep(matmul(rt, signs, noisePred.reshape([2, noisePred.size / 2])));
      },
      disposeBlockState(state, place) {
        disposedStates.push(place.name);
        state?.merge.dispose();
        state?.unmerge.dispose();
      },
    };
    const hooks = new AttentionHooks(plugin);
    const outs: Float32Array[] = [];
    for (const step of [0, 1]) {
      const out = run(hooks, step);
      outs.push(await rt.read(out));
      guidance.push(await rt.read(lastGuidance!));
      const host = outs[step]!;
      const half = host.length / 2;
      const want = host.subarray(half).map((v, i) => v - host[i]!);
      t.ok(maxRelError(guidance[step]!, want) <= 1e-6, `step ${step}: ε_cond − ε_uncond seen by endEvaluation`);
      out.dispose();
    }
    t.ok(outs[0]!.every(Number.isFinite), 'finite');
    const change = maxRelError(outs[0]!, reference);
    t.ok(change > 1e-3, `merging changes the output (${change.toExponential(2)})`);
    t.equal(maxRelError(outs[1]!, outs[0]!), 0, 'deterministic across evaluations');
    t.same(
      [...Array(16).keys()].map((i) => unet.sites[i]!.name).filter((n) => (hooks.stateOf(n) as PairState | null)?.uses === 2),
      unet.sites.filter((s) => s.downsample === 1).map((s) => s.name),
      'state kept per block across evaluations',
    );
    hooks.dispose();
    t.equal(disposedStates.length, 16, 'every block state released');
    (lastGuidance as Tensor | null)?.dispose();
  });

  t.teardown(async () => {
    unet.dispose();
    await golden.dispose();
  });
});

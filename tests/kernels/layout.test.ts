import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { cast, nchwToTokens, tokensToNchw } from '../../kernels/layout.js';
import type { DType } from '../../runtime/dtype.js';

t.test('NCHW ⇄ tokens transposes match a TS reference', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  // C and H·W off the 32-wide tiles, one that spans several tiles each way
  const shapes: [number, number, number, number][] = [[2, 37, 5, 7], [1, 64, 9, 8], [1, 1, 1, 3]];
  for (const dtype of dtypes) {
    for (const [b, c, h, w] of shapes) {
      const s = h * w;
      let x = seededValues(b * c * s, 81);
      if (dtype === 'f16') x = roundToF16(x);
      const want = new Float32Array(x.length);
      for (let n = 0; n < b; n++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < s; p++) want[(n * s + p) * c + ch] = x[(n * c + ch) * s + p]!;
      const [tokens, back] = rt.tidy(() => {
        const tk = nchwToTokens(rt, rt.upload(x, [b, c, h, w], dtype));
        return [rt.keep(tk), rt.keep(tokensToNchw(rt, tk, h, w))];
      });
      t.same(tokens.shape, [b, s, c], 'tokens shape');
      t.same(back.shape, [b, c, h, w], 'NCHW shape');
      t.same(await rt.read(tokens), want, `nchwToTokens ${dtype} [${b}, ${c}, ${h}, ${w}] is exact`);
      t.same(await rt.read(back), x, `tokensToNchw ${dtype} [${b}, ${s}, ${c}] is exact`);
      tokens.dispose();
      back.dispose();
    }
  }
});

t.test('cast converts f32 ⇄ f16 with round-to-nearest-even', async (t) => {
  const rt = await testRuntime();
  if (!rt.features.f16) {
    t.pass('no shader-f16: skipped');
    return;
  }
  for (const n of [37, 64]) {
    const x = seededValues(n, 91, -70000, 70000).map((v, i) => (i % 3 === 0 ? v / 1e4 : v));
    x[0] = 1 + 2 ** -11; // a tie: rounds to even (1)
    x[1] = 1 + 3 * 2 ** -11; // a tie: rounds to even (1 + 2^-9)
    x[2] = 60000;
    const want = roundToF16(x);
    const [half, full] = rt.tidy(() => {
      const h = cast(rt, rt.upload(x, [n]), 'f16');
      return [rt.keep(h), rt.keep(cast(rt, h, 'f32'))];
    });
    t.equal(half.dtype, 'f16');
    t.equal(full.dtype, 'f32');
    const inRange = (a: Float32Array) => Array.from(a, (v, i) => (Math.abs(x[i]!) < 65504 ? v : 0));
    t.same(inRange(await rt.read(half)), inRange(want), `f32 → f16 [${n}] rounds like the host`);
    t.same(inRange(await rt.read(full)), inRange(want), `f16 → f32 [${n}] is exact`);
    half.dispose();
    full.dispose();
  }
  const same = rt.tidy(() => rt.keep(cast(rt, rt.upload([1, 2, 3], [3]), 'f32')));
  t.same(await rt.read(same), Float32Array.from([1, 2, 3]), 'same dtype copies');
  same.dispose();
});

t.test('layout rejects bad shapes', async (t) => {
  const rt = await testRuntime();
  rt.tidy(() => {
    t.throws(() => nchwToTokens(rt, rt.zeros([2, 3, 4])), /must be \[B, C, H, W\]/);
    t.throws(() => tokensToNchw(rt, rt.zeros([1, 12, 3]), 3, 5), /must be \[B, 3·5, C\]/);
  });
});

import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { seededValues } from '../support/compare.js';
import { poolDrawKeys } from '../../kernels/importance-draw.js';
import { poolSplit } from '../../kernels/importance-partition.js';
import { FORCED_BONUS, forcedFirstKeys } from '../../kernels/importance-priority.js';
import { rankDescending } from '../../kernels/merge-rank.js';
import { referenceRank } from './merge-reference.js';
import { referenceDrawKeys, referencePoolSplit } from './importance-reference.js';

// [images, tokens, pool, nDst]
const CASES: [number, number, number, number][] = [
  [2, 117, 80, 24],
  [1, 300, 300, 75],
  [3, 13, 7, 1],
];

t.test('draw keys: hashed uniforms for the pool, −1 elsewhere, bit-exact against the TS hash', async (t) => {
  const rt = await testRuntime();
  for (const [images, tokens, pool] of CASES) {
    const importance = seededValues(images * tokens, tokens);
    const { rank } = referenceRank(importance, images, tokens);
    for (const seed of [0, 12345, 0xfffffff0]) {
      const keys = rt.tidy(() => poolDrawKeys(rt, rt.upload(Uint32Array.from(rank), [images, tokens], 'u32'), pool, seed));
      const got = await rt.read(keys);
      t.same([...got], [...referenceDrawKeys(rank, images, tokens, pool, seed)], `[${images}, ${tokens}] pool ${pool} seed ${seed}`);
      t.equal(got.filter((k) => k >= 0).length, images * pool, 'pool tokens per image have keys in [0, 1)');
      keys.dispose();
    }
  }
});

t.test('pool split: destinations drawn from the pool, outside-pool sources first, CFG halves equal', async (t) => {
  const rt = await testRuntime();
  for (const [images, tokens, pool, nDst] of CASES) {
    const importance = seededValues(images * tokens, tokens + 1);
    const { rank } = referenceRank(importance, images, tokens);
    const drawKeys = referenceDrawKeys(rank, images, tokens, pool, 99);
    const { rank: drawRank } = referenceRank(drawKeys, images, tokens);
    const batch = 2 * images;
    const split = rt.tidy(() => poolSplit(rt, rt.upload(Uint32Array.from(drawRank), [images, tokens], 'u32'), batch, pool, nDst));
    const want = referencePoolSplit(drawRank, images, tokens, batch, pool, nDst);
    const dst = [...(await rt.readU32(split.dst))];
    const src = [...(await rt.readU32(split.src))];
    const label = `[${images}, ${tokens}] pool ${pool} dst ${nDst}`;
    t.same(dst, want.dst, `${label}: dst`);
    t.same(src, want.src, `${label}: src`);
    const nSrc = tokens - nDst;
    for (let b = 0; b < batch; b++) {
      const i = b % images;
      const inPool = (tok: number) => rank[i * tokens + tok]! < pool;
      const d = dst.slice(b * nDst, (b + 1) * nDst);
      const s = src.slice(b * nSrc, (b + 1) * nSrc);
      t.same([...d, ...s].sort((x, y) => x - y), Array.from({ length: tokens }, (_, k) => k), `${label} row ${b}: a permutation`);
      t.ok(d.every(inPool), `${label} row ${b}: destinations in the pool`);
      t.ok(s.slice(0, tokens - pool).every((tok) => !inPool(tok)) && s.slice(tokens - pool).every(inPool), `${label} row ${b}: outside-pool sources first`);
    }
    split.dst.dispose();
    split.src.dispose();
  }
});

t.test('priority keys lift the first `forced` sources above every other, rank order kept within groups', async (t) => {
  const rt = await testRuntime();
  for (const [batch, nSrc, forced] of [[2, 93, 30], [1, 5, 0], [3, 40, 40]] as const) {
    const sim = seededValues(batch * nSrc, nSrc);
    const keys = rt.tidy(() => forcedFirstKeys(rt, rt.upload(sim, [batch, nSrc], 'f32'), forced));
    const want = Float32Array.from(sim, (v, e) => v + (e % nSrc < forced ? FORCED_BONUS : 0));
    const got = await rt.read(keys);
    t.same([...got], [...want], `[${batch}, ${nSrc}] forced ${forced}: keys`);
    const { rank } = rt.tidy(() => rankDescending(rt, keys));
    const ranks = await rt.readU32(rank);
    let ok = true;
    for (let b = 0; b < batch; b++) for (let i = 0; i < nSrc; i++) ok &&= (ranks[b * nSrc + i]! < forced) === (i < forced);
    t.ok(ok, `[${batch}, ${nSrc}] forced ${forced}: forced sources hold the first ranks`);
    keys.dispose();
    rank.dispose();
  }
});

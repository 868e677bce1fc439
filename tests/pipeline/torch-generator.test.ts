import t from 'tap';
import { readFileSync } from 'node:fs';
import { TorchGenerator } from '../../pipeline/torch-generator.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { fromRoot } from '../../runtime/paths.js';

interface FixtureCase {
  key: string;
  seed: number;
  shape: number[];
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
function orderedBits(x: number): number {
  f32[0] = x;
  const b = i32[0]!;
  return b < 0 ? -(b & 0x7fffffff) : b;
}

/** Largest distance in float32 units in the last place (0 = bit-identical). */
function maxUlpDistance(got: Float32Array, want: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(orderedBits(got[i]!) - orderedBits(want[i]!)));
  return worst;
}

t.test('randn and rand reproduce torch CPU output bit for bit', async (t) => {
  const meta = JSON.parse(readFileSync(fromRoot('tests', 'fixtures', 'torch_randn.json'), 'utf8')) as { cases: FixtureCase[] };
  const file = await SafetensorsFile.open(fromRoot('tests', 'fixtures', 'torch_randn.safetensors'));
  t.teardown(() => file.close());
  t.ok(meta.cases.length >= 24, 'fixture lists every seed × shape');
  for (const c of meta.cases) {
    const want = await file.readFloat32(c.key);
    const got = new TorchGenerator(c.seed).randn(c.shape);
    t.equal(got.length, want.length, `${c.key} length`);
    t.equal(maxUlpDistance(got, want), 0, `${c.key}: randn identical`);
  }
  const seeds = [...new Set(meta.cases.map((c) => c.seed))];
  for (const seed of seeds) {
    const key = `seed${seed}.rand_1x100`;
    t.equal(maxUlpDistance(new TorchGenerator(seed).rand([1, 100]), await file.readFloat32(key)), 0, `${key}: rand identical`);
  }
});

t.test('seeds: bigint equals number, and only the low 32 bits count', (t) => {
  const a = new TorchGenerator(4294967301).randn([40]);
  t.same(Array.from(new TorchGenerator(4294967301n).randn([40])), Array.from(a));
  t.same(Array.from(new TorchGenerator(5).randn([40])), Array.from(a));
  // torch takes a negative seed as its uint64 two's complement.
  t.same(Array.from(new TorchGenerator(-1).randn([20])), Array.from(new TorchGenerator(0xffffffff).randn([20])));
  t.throws(() => new TorchGenerator(1.5), /safe integer/);
  t.throws(() => new TorchGenerator(0).randn([2, -1]), /bad shape/);
  t.end();
});

t.test('fewer than 16 elements: the double-precision path with its cached sample', (t) => {
  // Published torch output: torch.manual_seed(0); torch.randn(2, 3), and seed 42 likewise.
  const close = (got: Float32Array, want: number[], what: string) =>
    t.ok(want.every((w, i) => Math.abs(got[i]! - w) <= 5e-5), `${what}: ${Array.from(got, (x) => x.toFixed(4))}`);
  close(new TorchGenerator(0).randn([2, 3]), [1.541, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986], 'seed 0, [2, 3]');
  close(new TorchGenerator(42).randn([2, 3]), [0.3367, 0.1288, 0.2345, 0.2303, -1.1229, -0.1863], 'seed 42, [2, 3]');
  // The Box–Muller sine is cached in the generator, so three randn(1) calls continue one stream.
  const g = new TorchGenerator(0);
  const singles = [g.randn([1])[0]!, g.randn([1])[0]!, g.randn([1])[0]!];
  t.same(singles, Array.from(new TorchGenerator(0).randn([3])));
  // A ≥ 16-element call neither reads nor clears that cache.
  const h = new TorchGenerator(0);
  h.randn([1]);
  h.randn([16]);
  t.equal(h.randn([1])[0], singles[1]);
  t.end();
});

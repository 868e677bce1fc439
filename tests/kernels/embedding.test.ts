import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { tokenEmbedding } from '../../kernels/embedding.js';
import type { FloatDType } from '../../runtime/dtype.js';

t.test('token + position embedding matches a TS reference', async (t) => {
  const rt = await testRuntime();
  const [vocab, channels, maxPos, batch, seq] = [23, 13, 9, 2, 7];
  const ids = Uint32Array.from({ length: batch * seq }, (_, i) => (i * 7 + 3) % vocab);
  for (const dtype of (rt.features.f16 ? ['f32', 'f16'] : ['f32']) as FloatDType[]) {
    const round = (x: Float32Array) => (dtype === 'f16' ? roundToF16(x) : x);
    const table = round(seededValues(vocab * channels, 5));
    const pos = round(seededValues(maxPos * channels, 6));
    const want = new Float32Array(batch * seq * channels);
    for (let r = 0; r < batch * seq; r++) {
      for (let c = 0; c < channels; c++) want[r * channels + c] = table[ids[r]! * channels + c]! + pos[(r % seq) * channels + c]!;
    }
    const got = await rt.read(
      rt.tidy(() => tokenEmbedding(rt, rt.upload(ids, [batch, seq], 'u32'), rt.upload(table, [vocab, channels], dtype), rt.upload(pos, [maxPos, channels], dtype))),
    );
    t.ok(maxRelError(got, dtype === 'f16' ? roundToF16(want) : want) <= KERNEL_TOLERANCE[dtype], `${dtype}`);
  }
});

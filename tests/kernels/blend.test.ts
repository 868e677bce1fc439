import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { KERNEL_TOLERANCE, maxRelError, seededValues } from '../support/compare.js';
import { roundToF16 } from '../../runtime/half.js';
import { blendTile } from '../../kernels/blend.js';
import type { DType } from '../../runtime/dtype.js';

// One tile [planes, th, tw] with both neighbours, against diffusers' blend_v then blend_h.
t.test('blendTile blends, places and saves edges as diffusers does', async (t) => {
  const rt = await testRuntime();
  const dtypes: DType[] = rt.features.f16 ? ['f32', 'f16'] : ['f32'];
  const [planes, th, tw] = [3, 9, 11];
  const [aboveRows, ev, leftCols, eh] = [5, 4, 6, 6];
  const [outH, outW, top, left, keepH, keepW] = [20, 30, 7, 13, 6, 8];
  const [bottomRows, rightCols] = [5, 3];
  for (const dtype of dtypes) {
    const vals = (n: number, seed: number) => (dtype === 'f16' ? roundToF16(seededValues(n, seed)) : seededValues(n, seed));
    const tile = vals(planes * th * tw, 1);
    const above = vals(planes * aboveRows * tw, 2);
    const leftStrip = vals(planes * th * leftCols, 3);
    const b = Float64Array.from(tile);
    for (let p = 0; p < planes; p++) {
      for (let y = 0; y < ev; y++) {
        for (let x = 0; x < tw; x++) {
          const a = above[(p * aboveRows + aboveRows - ev + y) * tw + x]!;
          const i = (p * th + y) * tw + x;
          b[i] = a * (1 - y / ev) + b[i]! * (y / ev);
        }
      }
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < eh; x++) {
          const a = leftStrip[(p * th + y) * leftCols + leftCols - eh + x]!;
          const i = (p * th + y) * tw + x;
          b[i] = a * (1 - x / eh) + b[i]! * (x / eh);
        }
      }
    }
    const imageRef = new Float64Array(planes * outH * outW).fill(7);
    for (let p = 0; p < planes; p++) {
      for (let y = 0; y < keepH; y++) for (let x = 0; x < keepW; x++) imageRef[(p * outH + top + y) * outW + left + x] = b[(p * th + y) * tw + x]!;
    }
    const bottomRef: number[] = [];
    const rightRef: number[] = [];
    for (let p = 0; p < planes; p++) {
      for (let y = th - bottomRows; y < th; y++) for (let x = 0; x < tw; x++) bottomRef.push(b[(p * th + y) * tw + x]!);
      for (let y = 0; y < th; y++) for (let x = tw - rightCols; x < tw; x++) rightRef.push(b[(p * th + y) * tw + x]!);
    }
    const image = rt.upload(new Float32Array(planes * outH * outW).fill(7), [1, planes, outH, outW], dtype);
    const bottom = rt.empty([1, planes, bottomRows, tw], dtype);
    const right = rt.empty([1, planes, th, rightCols], dtype);
    rt.tidy(() =>
      blendTile(rt, {
        tile: rt.upload(tile, [1, planes, th, tw], dtype),
        image,
        top,
        left,
        keepRows: keepH,
        keepCols: keepW,
        above: { strip: rt.upload(above, [1, planes, aboveRows, tw], dtype), extent: ev },
        leftEdge: { strip: rt.upload(leftStrip, [1, planes, th, leftCols], dtype), extent: eh },
        bottom,
        right,
      }),
    );
    const bar = KERNEL_TOLERANCE[dtype];
    for (const [name, got, want] of [
      ['image', image, imageRef],
      ['bottom strip', bottom, bottomRef],
      ['right strip', right, rightRef],
    ] as const) {
      const err = maxRelError(await rt.read(got), want);
      t.ok(err <= bar, `${dtype} ${name}: max rel error ${err.toExponential(2)}`);
      got.dispose();
    }
  }
  const tile = rt.zeros([1, 1, 4, 4]);
  const image = rt.zeros([1, 1, 4, 4]);
  t.throws(() => blendTile(rt, { tile, image, top: 1, left: 0, keepRows: 4, keepCols: 4 }), /the kept 4x4 at \(1, 0\) leaves the image/);
  const short = rt.zeros([1, 1, 2, 4]);
  t.throws(
    () => blendTile(rt, { tile, image, top: 0, left: 0, keepRows: 4, keepCols: 4, above: { strip: short, extent: 3 } }),
    /above strip \[1, 1, 2, 4\] with extent 3/,
  );
  short.dispose();
  t.throws(() => blendTile(rt, { tile, image: tile, top: 0, left: 0, keepRows: 4, keepCols: 4 }), /shares a buffer/);
  tile.dispose();
  image.dispose();
});

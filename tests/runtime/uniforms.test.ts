import t from 'tap';
import { Uniforms } from '../../runtime/uniforms.js';
import { UniformArena } from '../../runtime/uniform-arena.js';
import { testRuntime } from '../support/runtime.js';

t.test('uniform structs pack u32, i32 and f32 words, padded with zeros to 16 bytes', async (t) => {
  const u = new Uniforms().u32(7, 0xffffffff).i32(-2).f32(1.5, -0);
  t.equal(u.byteLength, 32, 'five words round up to two 16-byte rows');
  const target = new Uint32Array(12).fill(0xdeadbeef);
  u.writeTo(target, 2);
  const f = new Float32Array([1.5, -0]);
  const bits = new Uint32Array(f.buffer);
  t.same([...target], [0xdeadbeef, 0xdeadbeef, 7, 0xffffffff, 0xfffffffe, bits[0], bits[1], 0, 0, 0, 0xdeadbeef, 0xdeadbeef]);
  t.equal(new Uniforms().byteLength, 16, 'an empty struct still takes 16 bytes');
  t.throws(() => new Uniforms().u32(-1), /out of range/);
  t.throws(() => new Uniforms().u32(1.5), /out of range/);
  t.throws(() => new Uniforms().u32(...new Array<number>(65).fill(0)), /capacity/);
});

t.test('the arena packs slots at the offset alignment and starts a new buffer when one is full', async (t) => {
  const rt = await testRuntime();
  const arena = new UniformArena(rt.pool, 256);
  const slots = Array.from({ length: 257 }, (_, i) => arena.slot(new Uniforms().u32(i)));
  t.same(slots.slice(0, 3).map((s) => s.offset), [0, 256, 512]);
  t.ok(slots.slice(0, 256).every((s) => s.buffer === slots[0]!.buffer && s.size === 16), '256 slots fill the first 64 KB buffer');
  t.not(slots[256]!.buffer, slots[0]!.buffer, 'the 257th starts another');
  t.equal(slots[256]!.offset, 0);
  arena.upload(rt.device.queue);
  arena.release();
  const again = arena.slot(new Uniforms().f32(2));
  t.equal(again.offset, 0, 'after a release the next command buffer starts over');
});

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { Uniforms } from '../runtime/uniforms.js';
import { kernelSource, specialize } from '../runtime/wgsl.js';
import { grid1d } from './grid.js';

/** Raw float encodings as checkpoints store them (safetensors dtype names). */
export type RawFloatDType = 'F32' | 'F16' | 'BF16';

const SRC_CODE: Record<RawFloatDType, number> = { F32: 0, F16: 1, BF16: 2 };
const SRC_BYTES: Record<RawFloatDType, number> = { F32: 4, F16: 2, BF16: 2 };

export interface ConvertChunk {
  /**
   * Raw little-endian values, bound as vec4<u32> (16-bit data packed two per word, low half first):
   * at least ceil(count / 8) × 16 bytes for F16/BF16 and × 32 bytes for F32, padding included.
   */
  readonly src: GPUBufferBinding;
  readonly srcDType: RawFloatDType;
  /** Elements in the chunk. */
  readonly count: number;
  readonly dst: Tensor;
  /** Element offset of the chunk in dst: a multiple of 8; only the chunk that ends dst may have a count that is not. */
  readonly dstOffset: number;
}

/** Source bytes convertChunk's binding must cover for `count` elements (whole 8-element octets). */
export function convertSourceBytes(srcDType: RawFloatDType, count: number): number {
  return Math.ceil(count / 8) * 8 * SRC_BYTES[srcDType];
}

/**
 * Writes count converted elements into dst at dstOffset: F32/F16/BF16 → f32 exactly, → f16 with
 * round-to-nearest-even (equal to runtime/half.ts f32ToF16Bits). Records one dispatch.
 */
export function convertChunk(rt: Runtime, c: ConvertChunk): void {
  const { dst, count, dstOffset, srcDType } = c;
  const name = `convert ${srcDType}→${dst.dtype}`;
  if (dst.dtype !== 'f32' && dst.dtype !== 'f16') throw new Error(`${name}: the destination must be f32 or f16`);
  if (!Number.isInteger(count) || count < 0 || !Number.isInteger(dstOffset) || dstOffset < 0) {
    throw new Error(`${name}: bad count ${count} or offset ${dstOffset}`);
  }
  if (dstOffset + count > dst.size) {
    throw new Error(`${name}: ${count} elements at offset ${dstOffset} run past ${dst}`);
  }
  if (dstOffset % 8 !== 0) throw new Error(`${name}: destination offset ${dstOffset} is not a multiple of 8`);
  if (count % 8 !== 0 && dstOffset + count !== dst.size) {
    throw new Error(`${name}: a chunk of ${count} elements (not a multiple of 8) at ${dstOffset} must end ${dst}`);
  }
  const srcBytes = convertSourceBytes(srcDType, count);
  if (c.src.size !== undefined && c.src.size < srcBytes) {
    throw new Error(`${name}: source binding has ${c.src.size} bytes, ${count} ${srcDType} elements need ${srcBytes} (whole octets)`);
  }
  if (count === 0) return;
  // The last octet's vec4 stores may reach past dst's 4-byte-rounded end, never past 16 bytes.
  const dstBytes = Math.ceil(dst.byteLength / 16) * 16;
  if (dstBytes > dst.buffer.size) throw new Error(`${name}: ${dst} buffer has no room for 16-byte stores`);
  const { workgroups, rowWidth } = grid1d(Math.ceil(count / 8), 256);
  rt.dispatch({
    pipeline: rt.pipeline(
      `convert_${srcDType}_${dst.dtype}`,
      specialize(kernelSource('convert.wgsl'), { consts: { SRC: SRC_CODE[srcDType], DST_F16: dst.dtype === 'f16' } }),
    ),
    uniforms: new Uniforms().u32(count, dstOffset, rowWidth),
    bindings: [c.src, { buffer: dst.buffer, offset: 0, size: dstBytes }],
    workgroups,
  });
}

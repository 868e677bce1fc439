import { Mt19937 } from './mt19937.js';
import { fma32, logCephes, sinCosCephes } from './float32-math.js';

/**
 * A host-side copy of PyTorch's CPU random generator, so that `--seed N` gives
 * the same starting latents as diffusers does with
 * `torch.randn(shape, generator=torch.Generator('cpu').manual_seed(N))`.
 *
 * What torch does, and this class repeats:
 * - manual_seed(N) seeds an MT19937 with the low 32 bits of N (as uint64, so a
 *   negative seed wraps) and clears the cached Box–Muller sample.
 * - A float uniform is `(next32() & (2^24 - 1)) / 2^24` (TransformationHelper.h).
 * - randn of a contiguous float32 tensor with ≥ 16 elements (normal_fill): fill
 *   the whole tensor with uniforms, then for each block of 16 map the pair
 *   (u[j], u[j+8]) through Box–Muller in float32 — radius = sqrt(-2·log(1-u[j])),
 *   θ = 2π·u[j+8], out[j] = radius·cos θ, out[j+8] = radius·sin θ. If the size is
 *   not a multiple of 16, the last 16 elements are refilled with fresh uniforms
 *   and recomputed (they overlap the previous block). On x86 the float log/sin/cos
 *   are avx_mathfun's Cephes polynomials; ./float32-math.ts reproduces them
 *   bit for bit.
 * - randn with < 16 elements goes element by element through
 *   at::normal_distribution<double>: two 53-bit uniforms from pairs of 32-bit
 *   draws (u1 for θ, u2 for the radius via log1p(-u2)), cos output returned and
 *   the sin output cached in the generator for the next such call.
 *
 * Limit: torch on ARM (Apple silicon, Graviton) runs the same algorithm through
 * libm's logf/cosf/sinf instead of the Cephes polynomials; its values can differ
 * from x86 torch (and from this class) in the last bit.
 */
export class TorchGenerator {
  private readonly engine: Mt19937;
  private cachedNormal: number | null = null;

  constructor(seed: number | bigint) {
    this.engine = new Mt19937(lowSeedBits(seed));
  }

  /** Same values as torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed), dtype=torch.float32). */
  randn(shape: readonly number[]): Float32Array {
    const size = elementCount(shape, 'randn');
    const out = new Float32Array(size);
    if (size >= 16) this.normalFill(out);
    else for (let i = 0; i < size; i++) out[i] = this.normalDouble();
    return out;
  }

  /** Same values as torch.rand(shape, generator=..., dtype=torch.float32): uniforms in [0, 1). */
  rand(shape: readonly number[]): Float32Array {
    const out = new Float32Array(elementCount(shape, 'rand'));
    for (let i = 0; i < out.length; i++) out[i] = this.uniformFloat();
    return out;
  }

  private uniformFloat(): number {
    return (this.engine.nextUint32() & 0xffffff) / 0x1000000;
  }

  private uniformDouble(): number {
    // random64() = (first draw << 32) | second draw, masked to 53 bits.
    const hi = this.engine.nextUint32() & 0x1fffff;
    const lo = this.engine.nextUint32();
    return (hi * 0x100000000 + lo) / 2 ** 53;
  }

  private normalDouble(): number {
    if (this.cachedNormal !== null) {
      const cached = this.cachedNormal;
      this.cachedNormal = null;
      return cached;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  private normalFill(out: Float32Array): void {
    const size = out.length;
    for (let i = 0; i < size; i++) out[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= size; i += 16) boxMuller16(out, i);
    if (size % 16 !== 0) {
      const start = size - 16;
      for (let i = start; i < size; i++) out[i] = this.uniformFloat();
      boxMuller16(out, start);
    }
  }
}

const TWO_PI = Math.fround(2 * Math.PI);
const sinCos: [number, number] = [0, 0];

/** normal_fill_16_AVX2 with mean 0 and std 1, on out[start .. start+16). */
function boxMuller16(out: Float32Array, start: number): void {
  for (let j = start; j < start + 8; j++) {
    const u1 = Math.fround(1 - out[j]!); // [0, 1) -> (0, 1] for the log
    const radius = Math.fround(Math.sqrt(Math.fround(-2 * logCephes(u1))));
    sinCosCephes(Math.fround(TWO_PI * out[j + 8]!), sinCos);
    out[j] = fma32(Math.fround(radius * sinCos[1]), 1, 0);
    out[j + 8] = fma32(Math.fround(radius * sinCos[0]), 1, 0);
  }
}

/** torch.manual_seed takes the seed as uint64 and MT19937 keeps its low 32 bits. */
function lowSeedBits(seed: number | bigint): number {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) throw new Error(`TorchGenerator: seed must be a safe integer, got ${seed}`);
    seed = BigInt(seed);
  }
  return Number(BigInt.asUintN(32, seed));
}

function elementCount(shape: readonly number[], op: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`TorchGenerator.${op}: bad shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

/**
 * 32-bit Mersenne Twister (MT19937), the engine behind PyTorch's CPU generator
 * (aten/src/ATen/core/MT19937RNGEngine.h): the standard Matsumoto–Nishimura
 * algorithm with the standard 32-bit seeding recurrence, so its stream equals
 * std::mt19937 and numpy's legacy RandomState for the same 32-bit seed.
 */
export class Mt19937 {
  private static readonly N = 624;
  private static readonly M = 397;
  private readonly state = new Uint32Array(Mt19937.N);
  private index = Mt19937.N;

  constructor(seed: number) {
    const s = this.state;
    s[0] = seed >>> 0;
    for (let i = 1; i < Mt19937.N; i++) {
      const prev = s[i - 1]!;
      // 1812433253 * (prev ^ (prev >>> 30)) + i, modulo 2^32.
      s[i] = (Math.imul(1812433253, (prev ^ (prev >>> 30)) >>> 0) + i) >>> 0;
    }
  }

  /** The next 32-bit output as an unsigned integer. */
  nextUint32(): number {
    if (this.index >= Mt19937.N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    const { N, M } = Mt19937;
    for (let i = 0; i < N; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % N]! & 0x7fffffff);
      s[i] = s[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}

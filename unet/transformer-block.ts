// BasicTransformerBlock (diffusers, SD 1.x settings): LayerNorm → self-attention → residual,
// LayerNorm → cross-attention → residual, LayerNorm → GEGLU feed-forward → residual; each sublayer
// open to a plug-in's merge/unmerge wrap (unet/hooks.ts).

import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { formatShape } from '../runtime/dtype.js';
import { layerNorm } from '../kernels/norm.js';
import { linear } from '../kernels/matmul.js';
import { attention } from '../kernels/attention.js';
import { geglu } from '../kernels/geglu.js';
import { add } from '../kernels/binary.js';
import { TRANSFORMER_LAYER_NORM_EPS } from './architecture.js';
import type { BlockPlan, Sublayer, SublayerWrap } from './hooks.js';
import type { UNetWeights } from './weights.js';
import type { DeviceCount } from '../kernels/device-count.js';

type Affine = readonly [weight: Tensor, bias: Tensor];

interface AttentionWeights {
  readonly q: Tensor;
  readonly k: Tensor;
  readonly v: Tensor;
  readonly out: Affine;
}

/**
 * A sublayer computed from (its possibly merged) input; residual, when given, is fused into the last
 * GEMM. valid: the input has a fixed capacity of rows and only this many (a GPU count) are real.
 */
type SublayerBody = (input: Tensor, keyValues: Tensor | null, residual: Tensor | undefined, valid: DeviceCount | undefined) => Tensor;

export class TransformerBlock {
  private readonly norms: Readonly<Record<Sublayer, Affine>>;
  private readonly attn1: AttentionWeights;
  private readonly attn2: AttentionWeights;
  private readonly ffIn: Affine;
  private readonly ffOut: Affine;
  private readonly scale: number;

  constructor(
    private readonly rt: Runtime,
    /** Parameter prefix: '<transformer>.transformer_blocks.<j>'. */
    readonly name: string,
    readonly channels: number,
    readonly heads: number,
    w: UNetWeights,
  ) {
    const affine = (p: string): Affine => [w.get(`${name}.${p}.weight`), w.get(`${name}.${p}.bias`)];
    const attn = (p: string): AttentionWeights => ({
      q: w.get(`${name}.${p}.to_q.weight`),
      k: w.get(`${name}.${p}.to_k.weight`),
      v: w.get(`${name}.${p}.to_v.weight`),
      out: affine(`${p}.to_out.0`),
    });
    this.norms = { attn1: affine('norm1'), attn2: affine('norm2'), ff: affine('norm3') };
    this.attn1 = attn('attn1');
    this.attn2 = attn('attn2');
    this.ffIn = affine('ff.net.0.proj');
    this.ffOut = affine('ff.net.2');
    this.scale = 1 / Math.sqrt(channels / heads);
  }

  /** x: [B, N, C] tokens; context: encoder hidden states [B, L, D]; plan: a plug-in's wraps. */
  forward(x: Tensor, context: Tensor, plan?: BlockPlan): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.channels) {
      throw new Error(`${this.name}: input ${formatShape(x.shape)}, expected [B, N, ${this.channels}]`);
    }
    // Under a GPU count the keys are the merged rows themselves, unless the wrap brings its own.
    const selfAttention: SublayerBody = (input, kv, residual, valid) =>
      this.attend(this.attn1, input, kv ?? input, residual, valid, kv ? undefined : valid);
    const crossAttention: SublayerBody = (input, _kv, residual, valid) => this.attend(this.attn2, input, context, residual, valid, undefined);
    // GEGLU and its linears are row-wise: rows past a GPU count compute garbage nobody reads.
    const feedForward: SublayerBody = (input, _kv, residual) => {
      const projected = linear(this.rt, input, this.ffIn[0], { bias: this.ffIn[1] });
      const gated = geglu(this.rt, projected);
      projected.dispose();
      return linear(this.rt, gated, this.ffOut[0], { bias: this.ffOut[1], residual });
    };
    const rt = this.rt;
    return rt.tidy(() => {
      let h = this.sublayer('attn1', x, selfAttention, plan?.attn1);
      h = this.sublayer('attn2', h, crossAttention, plan?.attn2);
      return this.sublayer('ff', h, feedForward, plan?.ff);
    });
  }

  /**
   * validQueries / validKeys: GPU counts of the real rows of a fixed-capacity input / source. The
   * linears still run over every row (the GEMMs' sizes are host numbers; row-wise, so rows past a
   * count only cost time); the attention masks keys past validKeys and skips rows past validQueries,
   * whose output rows stay unwritten and are never read (the wrap's unmerge gathers below the count).
   */
  private attend(
    p: AttentionWeights,
    input: Tensor,
    source: Tensor,
    residual: Tensor | undefined,
    validQueries: DeviceCount | undefined,
    validKeys: DeviceCount | undefined,
  ): Tensor {
    const rt = this.rt;
    const q = linear(rt, input, p.q);
    const k = linear(rt, source, p.k);
    const v = linear(rt, source, p.v);
    const o = attention(rt, q, k, v, { heads: this.heads, scale: this.scale, validQueries, validKeys });
    q.dispose();
    k.dispose();
    v.dispose();
    return linear(rt, o, p.out[0], { bias: p.out[1], residual });
  }

  /** x + unmerge(body(merge(norm(x)))), or x + body(norm(x)) with the add fused when unwrapped. */
  private sublayer(which: Sublayer, x: Tensor, body: SublayerBody, wrap: SublayerWrap | undefined): Tensor {
    const rt = this.rt;
    const [g, b] = this.norms[which];
    return rt.tidy(() => {
      const normed = layerNorm(rt, x, g, b, { eps: TRANSFORMER_LAYER_NORM_EPS });
      if (!wrap || (!wrap.merge && !wrap.unmerge && !wrap.unmergeAdd && !wrap.keyValues && !wrap.validTokens)) return body(normed, null, x, undefined);
      const label = `${this.name}.${which}`;
      if (wrap.keyValues && which !== 'attn1') throw new Error(`${label}: keyValues is only for self-attention (attn1)`);
      // Rows past the count hold garbage: only an unmerge (which gathers below the count) may follow.
      if (wrap.validTokens && !wrap.unmerge && !wrap.unmergeAdd) throw new Error(`${label}: validTokens needs an unmerge`);
      const keyValues = wrap.keyValues ? this.checkTokens(wrap.keyValues(normed), x, `${label} keyValues`) : null;
      const merged = wrap.merge ? this.checkTokens(wrap.merge(normed), x, `${label} merge`) : normed;
      if (!wrap.unmerge && !wrap.unmergeAdd) {
        if (merged.shape[1] !== x.shape[1]) {
          throw new Error(`${label}: merge changed the tokens ${x.shape[1]} → ${merged.shape[1]} but the wrap has no unmerge`);
        }
        return body(merged, keyValues, x, undefined);
      }
      const y = body(merged, keyValues, undefined, wrap.validTokens);
      const out = wrap.unmergeAdd ? wrap.unmergeAdd(y, x) : add(rt, this.checkSame(wrap.unmerge!(y), x, `${label} unmerge`), x);
      return this.checkSame(out, x, `${label} ${wrap.unmergeAdd ? 'unmergeAdd' : 'unmerge'}`);
    });
  }

  private checkTokens(t: Tensor, like: Tensor, what: string): Tensor {
    if (t.rank !== 3 || t.shape[0] !== like.shape[0] || t.shape[2] !== like.shape[2] || t.dtype !== like.dtype) {
      throw new Error(`${what}: returned ${t}, expected [${like.shape[0]}, N', ${like.shape[2]}] ${like.dtype}`);
    }
    return t;
  }

  private checkSame(t: Tensor, like: Tensor, what: string): Tensor {
    if (t.rank !== like.rank || t.shape.some((d, i) => d !== like.shape[i]) || t.dtype !== like.dtype) {
      throw new Error(`${what}: returned ${t}, expected ${like}`);
    }
    return t;
  }
}

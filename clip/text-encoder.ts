import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import type { FloatDType } from '../runtime/dtype.js';
import { tokenEmbedding } from '../kernels/embedding.js';
import { layerNorm } from '../kernels/norm.js';
import { linear } from '../kernels/matmul.js';
import { attention } from '../kernels/attention.js';

/** The sizes of a CLIP text transformer (ViT-L/14's for SD 1.5: 768, 3072, 12, 12, 77). */
export interface ClipTextDims {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly heads: number;
  readonly layers: number;
  readonly maxPositions: number;
  readonly eps: number;
  readonly activation: 'quick_gelu' | 'gelu';
}

export interface EncodeOptions {
  /**
   * Use the hidden state this many layers from the end, then the final layer norm: 1 (default) is
   * the last layer; 2 is the penultimate, the "clip skip 2" many SD 1.5 fine-tunes expect.
   */
  readonly clipSkip?: number;
  /** Sees hidden_states[i] as transformers numbers them (0 = embeddings, i = after layer i). */
  readonly capture?: (index: number, hidden: Tensor) => void;
}

/** Parameter names (transformers' CLIPTextModel without the `text_model.` prefix) and shapes. */
export function clipTextParameterShapes(d: ClipTextDims): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const C = d.hiddenSize;
  m.set('embeddings.token_embedding.weight', [d.vocabSize, C]);
  m.set('embeddings.position_embedding.weight', [d.maxPositions, C]);
  for (let i = 0; i < d.layers; i++) {
    const p = `encoder.layers.${i}.`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      m.set(`${p}self_attn.${proj}.weight`, [C, C]);
      m.set(`${p}self_attn.${proj}.bias`, [C]);
    }
    for (const ln of ['layer_norm1', 'layer_norm2']) {
      m.set(`${p}${ln}.weight`, [C]);
      m.set(`${p}${ln}.bias`, [C]);
    }
    m.set(`${p}mlp.fc1.weight`, [d.intermediateSize, C]);
    m.set(`${p}mlp.fc1.bias`, [d.intermediateSize]);
    m.set(`${p}mlp.fc2.weight`, [C, d.intermediateSize]);
    m.set(`${p}mlp.fc2.bias`, [C]);
  }
  m.set('final_layer_norm.weight', [C]);
  m.set('final_layer_norm.bias', [C]);
  return m;
}

/** The CLIP text encoder: token ids → per-token hidden states for the U-Net's cross-attention. */
export class ClipTextEncoder {
  private constructor(
    private readonly rt: Runtime,
    readonly dims: ClipTextDims,
    readonly dtype: FloatDType,
    private readonly weights: ReadonlyMap<string, Tensor>,
  ) {}

  /** Takes ownership of weights (names as clipTextParameterShapes gives them, already validated). */
  static create(rt: Runtime, dims: ClipTextDims, weights: ReadonlyMap<string, Tensor>): ClipTextEncoder {
    const dtype = weights.get('final_layer_norm.weight')?.dtype;
    if (dtype !== 'f32' && dtype !== 'f16') throw new Error('ClipTextEncoder: weights missing or not floating point');
    return new ClipTextEncoder(rt, dims, dtype, weights);
  }

  /** ids: [B, S] u32 → [B, S, hidden] (after the final layer norm). */
  encode(ids: Tensor, options: EncodeOptions = {}): Tensor {
    const d = this.dims;
    const skip = options.clipSkip ?? 1;
    if (!Number.isInteger(skip) || skip < 1 || skip > d.layers) {
      throw new Error(`clip skip must be an integer from 1 to ${d.layers}, got ${skip}`);
    }
    const rt = this.rt;
    const w = (name: string) => this.weight(name);
    return rt.tidy(() => {
      let x = tokenEmbedding(rt, ids, w('embeddings.token_embedding.weight'), w('embeddings.position_embedding.weight'));
      options.capture?.(0, x);
      const lastLayer = d.layers - (skip - 1);
      for (let i = 0; i < lastLayer; i++) {
        x = this.layer(x, `encoder.layers.${i}.`);
        options.capture?.(i + 1, x);
      }
      return layerNorm(rt, x, w('final_layer_norm.weight'), w('final_layer_norm.bias'), { eps: d.eps });
    });
  }

  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
  }

  private layer(x: Tensor, p: string): Tensor {
    const rt = this.rt;
    const d = this.dims;
    const w = (name: string) => this.weight(p + name);
    const h = layerNorm(rt, x, w('layer_norm1.weight'), w('layer_norm1.bias'), { eps: d.eps });
    const q = linear(rt, h, w('self_attn.q_proj.weight'), { bias: w('self_attn.q_proj.bias') });
    const k = linear(rt, h, w('self_attn.k_proj.weight'), { bias: w('self_attn.k_proj.bias') });
    const v = linear(rt, h, w('self_attn.v_proj.weight'), { bias: w('self_attn.v_proj.bias') });
    const a = attention(rt, q, k, v, { heads: d.heads, causal: true });
    const x1 = linear(rt, a, w('self_attn.out_proj.weight'), { bias: w('self_attn.out_proj.bias'), residual: x });
    const h2 = layerNorm(rt, x1, w('layer_norm2.weight'), w('layer_norm2.bias'), { eps: d.eps });
    const f = linear(rt, h2, w('mlp.fc1.weight'), { bias: w('mlp.fc1.bias'), activation: d.activation });
    return linear(rt, f, w('mlp.fc2.weight'), { bias: w('mlp.fc2.bias'), residual: x1 });
  }

  private weight(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`ClipTextEncoder: no weight ${name}`);
    return t;
  }
}

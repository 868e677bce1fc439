// How each random weight is drawn: PyTorch's default initialisation of the layer it belongs to,
// told apart by shape alone (the parameter maps come from the model code), so any config works.
//
//  - Linear [out, in] and Conv2d [out, in, kh, kw] weights: kaiming_uniform_(a=√5), which PyTorch
//    applies by default; its bound gain·√(3/fan_in) with gain √(2/(1+5)) is exactly 1/√fan_in,
//    fan_in = in·kh·kw. Their biases: U(−1/√fan_in, 1/√fan_in) with the weight's fan_in.
//  - Norm layers (GroupNorm, LayerNorm: a 1-D weight): weight 1, bias 0.
//  - CLIP's token embedding: N(0, 1), nn.Embedding's default. The position embedding: N(0, 0.01²),
//    a small perturbation so positions stay distinguishable without swamping the tokens
//    (transformers itself initialises both with N(0, 0.02²); nn.Embedding would give N(0, 1)).

export type InitRule =
  | { readonly kind: 'uniform'; readonly bound: number }
  | { readonly kind: 'normal'; readonly std: number }
  | { readonly kind: 'constant'; readonly value: number };

export const TOKEN_EMBEDDING_STD = 1;
export const POSITION_EMBEDDING_STD = 0.01;

function fanIn(shape: readonly number[]): number {
  return shape.slice(1).reduce((p, d) => p * d, 1);
}

/** The rule for one parameter, given every parameter's shape (a bias looks at its weight). */
export function initRule(name: string, shapes: ReadonlyMap<string, readonly number[]>): InitRule {
  const shape = shapes.get(name);
  if (!shape) throw new Error(`random init: no parameter ${name}`);
  if (name.endsWith('token_embedding.weight')) return { kind: 'normal', std: TOKEN_EMBEDDING_STD };
  if (name.endsWith('position_embedding.weight')) return { kind: 'normal', std: POSITION_EMBEDDING_STD };
  if (name.endsWith('.weight')) {
    if (shape.length === 1) return { kind: 'constant', value: 1 };
    return { kind: 'uniform', bound: 1 / Math.sqrt(fanIn(shape)) };
  }
  if (name.endsWith('.bias')) {
    const weight = shapes.get(`${name.slice(0, -'.bias'.length)}.weight`);
    if (!weight) throw new Error(`random init: bias ${name} has no weight beside it to take its fan-in from`);
    if (weight.length === 1) return { kind: 'constant', value: 0 };
    return { kind: 'uniform', bound: 1 / Math.sqrt(fanIn(weight)) };
  }
  throw new Error(`random init: ${name} is neither a .weight nor a .bias; no rule for it`);
}

// The fragment operations of attention_mma_ops.wgsl on plain arrays: every invocation holds a
// whole fragment and does the whole multiply. Slow, but it runs attention_mma.wgsl's tiling,
// staging, masking and softmax on devices without subgroup matrices, so tests catch their bugs
// before the tensor-core variant reaches a GPU.
// Expects from the prelude: FM, FN, FK, KS, PS; from attention_mma.wgsl: p, stage, ptile, scratch.

struct Left { e: array<f16, FM * FK> }
struct Right { e: array<f16, FK * FN> }
struct Acc { e: array<f32, FM * FN> }

fn frag_zero() -> Acc { return Acc(); }

fn frag_mma(a: Left, b: Right, c: Acc) -> Acc {
  var r = c;
  for (var i = 0u; i < FM + p.zero; i++) {
    for (var j = 0u; j < FN + p.zero; j++) {
      var s = r.e[i * FN + j];
      for (var x = 0u; x < FK + p.zero; x++) { s += f32(a.e[i * FK + x]) * f32(b.e[x * FN + j]); }
      r.e[i * FN + j] = s;
    }
  }
  return r;
}

fn load_q(at: u32) -> Left {
  var f: Left;
  for (var i = 0u; i < FM + p.zero; i++) {
    for (var x = 0u; x < FK + p.zero; x++) { f.e[i * FK + x] = stage[at + i * KS + x]; }
  }
  return f;
}

fn load_kt(at: u32) -> Right {
  var f: Right;
  for (var x = 0u; x < FK + p.zero; x++) {
    for (var j = 0u; j < FN + p.zero; j++) { f.e[x * FN + j] = stage[at + j * KS + x]; }
  }
  return f;
}

fn load_v(at: u32) -> Right {
  var f: Right;
  for (var x = 0u; x < FK + p.zero; x++) {
    for (var j = 0u; j < FN + p.zero; j++) { f.e[x * FN + j] = stage[at + x * KS + j]; }
  }
  return f;
}

fn load_p(at: u32) -> Left {
  var f: Left;
  for (var i = 0u; i < FM + p.zero; i++) {
    for (var x = 0u; x < FK + p.zero; x++) { f.e[i * FK + x] = ptile[at + i * PS + x]; }
  }
  return f;
}

fn store_acc(at: u32, x: Acc, stride: u32) {
  for (var i = 0u; i < FM + p.zero; i++) {
    for (var j = 0u; j < FN + p.zero; j++) { scratch[at + i * stride + j] = x.e[i * FN + j]; }
  }
}

fn load_acc(at: u32, stride: u32) -> Acc {
  var f: Acc;
  for (var i = 0u; i < FM + p.zero; i++) {
    for (var j = 0u; j < FN + p.zero; j++) { f.e[i * FN + j] = scratch[at + i * stride + j]; }
  }
  return f;
}

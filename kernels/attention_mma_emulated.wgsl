// The fragment operations of attention_mma_ops.wgsl without subgroup matrices, for testing
// attention_mma.wgsl's tiling, staging, masking and softmax on devices that lack them (and whose
// CPU compilers choke on large fragment arrays). Results are shared out like the hardware's: lane
// L of a subgroup holds elements L, L + 32, ... (row-major). Left and right operands are only
// handles to where they were loaded from; a multiply reads them there, which is sound because
// attention_mma.wgsl multiplies P, Kᵀ and V fragments before their memory changes. Q fragments
// outlive the stage they come from, so loading one copies it aside (every lane writes the same
// values, so no barrier is needed).
// Expects from the prelude: FM, FN, FK, KS, PS, BQ; from attention_mma.wgsl: p, stage, ptile,
// scratch; from the K/V access file: kv_elem (right operands that live in storage).

const ACC_SHARE: u32 = FM * FN / 32u;

struct Left { in_p: bool, at: u32 }
// src: 0 stage column-major, 1 stage row-major, 2 K column-major, 3 V row-major (via kv_elem).
struct Right { src: u32, at: u32, stride: u32 }
struct Acc { e: array<f32, ACC_SHARE> }

var<workgroup> emu_q: array<f16, BQ * KS>;
var<private> emu_lane: u32;
// 0 at run time, unknown to the compiler: loop bounds + emu_zero stay loops instead of being
// unrolled into code a CPU compiler takes minutes over (head counts are far below 2^31).
var<private> emu_zero: u32;

fn frag_begin(sg: u32, lane: u32) {
  emu_lane = lane;
  emu_zero = p.heads >> 31u;
}

fn frag_zero() -> Acc { return Acc(); }

// Element i of the vector-element stage and P tile.
fn stage_h(i: u32) -> f16 { return stage[i / 4u][i % 4u]; }
fn ptile_h(i: u32) -> f16 { return ptile[i / 4u][i % 4u]; }

fn left_at(a: Left, i: u32, x: u32) -> f32 {
  if (a.in_p) { return f32(ptile_h(a.at + i * PS + x)); }
  return f32(emu_q[a.at + i * KS + x]);
}

fn right_at(b: Right, x: u32, j: u32) -> f32 {
  switch b.src {
    case 0u: { return f32(stage_h(b.at + j * b.stride + x)); }
    case 1u: { return f32(stage_h(b.at + x * b.stride + j)); }
    case 2u: { return kv_elem(2u, b.at + j * b.stride + x); }
    default: { return kv_elem(3u, b.at + x * b.stride + j); }
  }
}

fn frag_mma(a: Left, b: Right, c: Acc) -> Acc {
  var r = c;
  for (var t = 0u; t < ACC_SHARE + emu_zero; t++) {
    let e = emu_lane + 32u * t;
    var s = r.e[t];
    for (var x = 0u; x < FK + emu_zero; x++) { s += left_at(a, e / FN, x) * right_at(b, x, e % FN); }
    r.e[t] = s;
  }
  return r;
}

fn load_q(at: u32) -> Left {
  for (var i = 0u; i < FM + emu_zero; i++) {
    for (var x = 0u; x < FK + emu_zero; x++) { emu_q[at + i * KS + x] = stage_h(at + i * KS + x); }
  }
  return Left(false, at);
}

fn stage_right_col(at: u32) -> Right { return Right(0u, at, KS); }
fn stage_right_row(at: u32) -> Right { return Right(1u, at, KS); }
fn load_p(at: u32) -> Left { return Left(true, at); }

fn store_acc(at: u32, x: Acc, stride: u32) {
  for (var t = 0u; t < ACC_SHARE + emu_zero; t++) {
    let e = emu_lane + 32u * t;
    let i = at + (e / FN) * stride + e % FN;
    scratch[i / 4u][i % 4u] = x.e[t];
  }
}

fn load_acc(at: u32, stride: u32) -> Acc {
  var f: Acc;
  for (var t = 0u; t < ACC_SHARE + emu_zero; t++) {
    let e = emu_lane + 32u * t;
    let i = at + (e / FN) * stride + e % FN;
    f.e[t] = scratch[i / 4u][i % 4u];
  }
  return f;
}

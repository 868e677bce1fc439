// gemm-tc.wgsl's fragments and staging without subgroup matrices, so its tiling, double buffering,
// interior path, launch bands, K slices and epilogue are tested on devices that lack them (CI's CPU
// driver). Tiles are staged as in gemm-tc-stage-vec.wgsl. Left and right fragments are handles to
// where they were loaded from; a multiply reads the tile there, which is sound because gemm-tc.wgsl
// multiplies every fragment before its buffer is refilled. Results are shared out like the
// hardware's: lane L of a subgroup holds elements L, L + 32, ... of the fragment (row-major).

const EMU_SHARE: u32 = SM * SN / LANES;

struct LeftFrag { at: u32 }
struct RightFrag { at: u32 }
struct ResultFrag { e: array<f32, EMU_SHARE> }

var<workgroup> tile_a: array<vec4<f16>, 2u * A_TILE / 4u>;
var<workgroup> tile_b: array<vec4<f16>, 2u * B_TILE / 4u>;
var<private> emu_lane: u32;

fn frag_begin(lane: u32) {
  emu_lane = lane;
}

fn put_a(at: u32, v: vec4<f16>) {
  tile_a[at / 4u] = v;
}

fn put_b(at: u32, v: vec4<f16>) {
  tile_b[at / 4u] = v;
}

fn load_left(at: u32) -> LeftFrag {
  return LeftFrag(at);
}

fn load_right(at: u32) -> RightFrag {
  return RightFrag(at);
}

/** B[k][col] of the right fragment at `at`: a [BN][BK] tile when B runs along K, else [BK][BN]. */
fn right_at(at: u32, k: u32, col: u32) -> f32 {
  if (B_ALONG_K) {
    let i = at + col * SB + k;
    return f32(tile_b[i / 4u][i % 4u]);
  }
  let i = at + k * SB + col;
  return f32(tile_b[i / 4u][i % 4u]);
}

fn mma(a: LeftFrag, b: RightFrag, c: ResultFrag) -> ResultFrag {
  var r = c;
  for (var q = 0u; q < rolled(EMU_SHARE); q++) {
    let e = emu_lane + q * LANES;
    let row = e / SN;
    let col = e % SN;
    var sum = 0.0;
    for (var k = 0u; k < rolled(SK); k++) {
      let i = a.at + row * SA + k;
      sum += f32(tile_a[i / 4u][i % 4u]) * right_at(b.at, k, col);
    }
    r.e[q] += sum;
  }
  return r;
}

fn store_result(at: u32, v: ResultFrag) {
  for (var q = 0u; q < rolled(EMU_SHARE); q++) {
    scratch[at + emu_lane + q * LANES] = v.e[q];
  }
}

fn store_global(at: u32, stride: u32, v: ResultFrag) {
  for (var q = 0u; q < rolled(EMU_SHARE); q++) {
    let e = emu_lane + q * LANES;
    let i = at + (e / SN) * stride + e % SN;
    partials[i / 4u][i % 4u] = v.e[q];
  }
}

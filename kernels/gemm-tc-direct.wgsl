// Tensor-core GEMM core that loads fragments straight from the storage buffers (no staging),
// relying on L1/L2 for reuse between the subgroups of a workgroup. Only for MODE_KN / MODE_NK
// with M, N multiples of the workgroup tile and K a multiple of SK (the wrapper checks), since
// fragment loads cannot be zero-filled at the edges.
// Appended to gemm-io.wgsl; uses the templated subgroupMatrixLoad over the vec4 operand arrays
// (offsets and strides in vec4s, so K and N must be multiples of 4, which the tile checks imply).
// Expects: SM, SN, SK, SG_M, SG_N, FM, FN.

const LANES: u32 = 32u;
const THREADS: u32 = SG_M * SG_N * LANES;
const BM: u32 = SG_M * FM * SM;
const BN: u32 = SG_N * FN * SN;
const FRAG: u32 = SM * SN;

alias LeftFrag = subgroup_matrix_left<f16, SK, SM>;
alias RightFrag = subgroup_matrix_right<f16, SN, SK>;
alias ResultFrag = subgroup_matrix_result<f32, SN, SM>;

var<workgroup> scratch: array<f32, SG_M * SG_N * FRAG>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  gemm_begin(wid.z);
  let sg = tid / LANES;
  let lane = tid % LANES;
  let sg_m = sg % SG_M;
  let sg_n = sg / SG_M;
  let row0 = wid.y * BM + sg_m * FM * SM;
  let col0 = wid.x * BN + sg_n * FN * SN;

  var acc: array<array<ResultFrag, FN>, FM>; // scalarize
  for (var k = 0u; k < p.k; k += SK) {
    var left: array<LeftFrag, FM>; // scalarize
    for (var i = 0u; i < FM; i++) { // unroll
      left[i] = subgroupMatrixLoad<LeftFrag, row_major>(&a, (a_base + (row0 + i * SM) * p.k + k) / 4u, p.k / 4u);
    }
    for (var j = 0u; j < FN; j++) { // unroll
      var right: RightFrag;
      if (B_ALONG_K) {
        right = subgroupMatrixLoad<RightFrag, col_major>(&b, (b_base + (col0 + j * SN) * p.k + k) / 4u, p.k / 4u);
      } else {
        right = subgroupMatrixLoad<RightFrag, row_major>(&b, (b_base + k * p.n + col0 + j * SN) / 4u, p.n / 4u);
      }
      for (var i = 0u; i < FM; i++) { // unroll
        acc[i][j] = subgroupMatrixMultiplyAccumulate(left[i], right, acc[i][j]);
      }
    }
  }

  let mine = sg * FRAG;
  for (var i = 0u; i < FM; i++) { // unroll
    for (var j = 0u; j < FN; j++) { // unroll
      subgroupMatrixStore<row_major>(&scratch, mine, acc[i][j], SN);
      workgroupBarrier();
      for (var q = 0u; q < FRAG / 4u / LANES; q++) { // unroll
        let e = lane + q * LANES;
        let r = e / (SN / 4u);
        let c = 4u * (e % (SN / 4u));
        let at = mine + r * SN + c;
        store4(row0 + i * SM + r, col0 + j * SN + c, vec4<f32>(scratch[at], scratch[at + 1u], scratch[at + 2u], scratch[at + 3u]));
      }
      workgroupBarrier();
    }
  }
}

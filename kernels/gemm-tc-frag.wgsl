// Hardware fragments for gemm-tc.wgsl: subgroup matrices (tensor cores). Followed by a staging
// file (gemm-tc-stage-*.wgsl) that loads them from the staged tiles.

alias LeftFrag = subgroup_matrix_left<f16, SK, SM>;
alias RightFrag = subgroup_matrix_right<f16, SN, SK>;
alias ResultFrag = subgroup_matrix_result<f32, SN, SM>;

fn frag_begin(lane: u32) {}

fn mma(a: LeftFrag, b: RightFrag, c: ResultFrag) -> ResultFrag {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

/** The fragment into the f32 buffer from element `at` on, rows `stride` apart (both multiples of 4). */
fn store_global(at: u32, stride: u32, v: ResultFrag) {
  subgroupMatrixStore<row_major>(&partials, at / 4u, v, stride / 4u);
}

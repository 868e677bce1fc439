// Hardware fragments for gemm-tc.wgsl: subgroup matrices (tensor cores). Followed by a staging
// file (gemm-tc-stage-*.wgsl) that loads them from the staged tiles.

alias LeftFrag = subgroup_matrix_left<f16, SK, SM>;
alias RightFrag = subgroup_matrix_right<f16, SN, SK>;
alias ResultFrag = subgroup_matrix_result<f32, SN, SM>;

fn frag_begin(lane: u32) {}

fn mma(a: LeftFrag, b: RightFrag, c: ResultFrag) -> ResultFrag {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

/** The fragment with top-left C[row, col] into the f32 plane at partial_base (rows of p.n, a multiple of 4). */
fn store_global(row: u32, col: u32, v: ResultFrag) {
  subgroupMatrixStore<row_major>(&partials, (partial_base + row * p.n + col) / 4u, v, p.n / 4u);
}

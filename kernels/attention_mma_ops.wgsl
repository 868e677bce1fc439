// Fragment operations of attention_mma.wgsl on hardware subgroup matrices (tensor cores).
// Expects from the prelude: FM, FN, FK, KS, PS; from attention_mma.wgsl: stage, ptile, scratch
// (arrays of 4-vectors, so the templated loads count offsets and strides in vectors).

alias Left = subgroup_matrix_left<f16, FK, FM>;
alias Right = subgroup_matrix_right<f16, FN, FK>;
alias Acc = subgroup_matrix_result<f32, FN, FM>;

fn frag_begin(sg: u32, lane: u32) {}
fn frag_zero() -> Acc { return Acc(); }
fn frag_mma(a: Left, b: Right, c: Acc) -> Acc { return subgroupMatrixMultiplyAccumulate(a, b, c); }
// Q rows [FM × FK] from the stage.
fn load_q(at: u32) -> Left { return subgroupMatrixLoad<Left, row_major>(&stage, at / 4u, KS / 4u); }
// Right fragments [FK × FN] from the stage: Kᵀ reads a [key][column] stage column-major, V row-major.
fn stage_right_col(at: u32) -> Right { return subgroupMatrixLoad<Right, col_major>(&stage, at / 4u, KS / 4u); }
fn stage_right_row(at: u32) -> Right { return subgroupMatrixLoad<Right, row_major>(&stage, at / 4u, KS / 4u); }
fn load_p(at: u32) -> Left { return subgroupMatrixLoad<Left, row_major>(&ptile, at / 4u, PS / 4u); }
fn store_acc(at: u32, x: Acc, stride: u32) { subgroupMatrixStore<row_major>(&scratch, at / 4u, x, stride / 4u); }
fn load_acc(at: u32, stride: u32) -> Acc { return subgroupMatrixLoad<Acc, row_major>(&scratch, at / 4u, stride / 4u); }

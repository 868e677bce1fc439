// Second pass of a split-K GEMM: sums the K slices' partial sums of C[m, n..n+3] and writes them
// through the shared epilogue (alpha, bias, activation, residual). One invocation per four
// outputs; workgroup grid (N/4/64, M, batches). Appended to gemm-io.wgsl; never reads A or B.
// Expects: SPLIT_K.

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) grid: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let n = 4u * (wid.x * 64u + li);
  let m = wid.y;
  if (n >= p.n) { return; }
  gemm_begin(wid.z);
  var sum = vec4<f32>(0.0);
  for (var s = 0u; s < SPLIT_K; s++) {
    sum += partials[(partial_plane(s, wid.z, grid.z) + m * p.n + n) >> 2u];
  }
  store4(m, n, sum);
}

// Second pass of a stream-K GEMM (gemm-tc.wgsl with STREAM_K): adds up the parts of every tail
// tile that more than one worker ran and writes the sums through the shared epilogue; a tile one
// worker ran whole went through it already. One invocation per four outputs; workgroup grid
// (BM·BN/4/64, tail tiles). Appended to gemm-io.wgsl; never reads A or B.
// Expects: BM, BN, BK (the GEMM's tile and K step; its M, N and K are multiples of them).

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  gemm_begin(0u);
  let steps = p.k / BK;
  let across = p.n / BN;
  let r = wid.y;
  let tail_steps = ((p.m / BM) * across - p.dp_tiles) * steps;
  let first = sk_worker(r * steps, tail_steps);
  let parts = sk_worker(r * steps + steps - 1u, tail_steps) - first + 1u;
  if (parts == 1u) { return; }
  let e = wid.x * 64u + li;
  let row = e / (BN / 4u);
  let col = 4u * (e % (BN / 4u));
  var sum = vec4<f32>(0.0);
  for (var q = 0u; q < parts; q++) {
    sum += partials[(sk_slot_base(r * SK_PARTS + q, BM * BN) + row * BN + col) >> 2u];
  }
  let t = p.dp_tiles + r;
  store4((t / across) * BM + row, (t % across) * BN + col, sum);
}

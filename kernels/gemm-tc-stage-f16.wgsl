// Staging for gemm-tc.wgsl in plain f16 arrays, one halfword store per element, with the
// original subgroupMatrixLoad/Store form (offsets and strides in f16 elements). The fallback where
// the templated form over vector arrays (gemm-tc-stage-vec.wgsl) is not available.

var<workgroup> tile_a: array<f16, 2u * A_TILE>;
var<workgroup> tile_b: array<f16, 2u * B_TILE>;

fn put_a(at: u32, v: vec4<f16>) {
  tile_a[at] = v.x;
  tile_a[at + 1u] = v.y;
  tile_a[at + 2u] = v.z;
  tile_a[at + 3u] = v.w;
}

fn put_b(at: u32, v: vec4<f16>) {
  tile_b[at] = v.x;
  tile_b[at + 1u] = v.y;
  tile_b[at + 2u] = v.z;
  tile_b[at + 3u] = v.w;
}

fn load_left(at: u32) -> LeftFrag {
  return subgroupMatrixLoad<LeftFrag, row_major>(&tile_a, at, SA);
}

fn load_right(at: u32) -> RightFrag {
  if (B_ALONG_K) {
    return subgroupMatrixLoad<RightFrag, col_major>(&tile_b, at, SB);
  }
  return subgroupMatrixLoad<RightFrag, row_major>(&tile_b, at, SB);
}

fn store_result(at: u32, v: ResultFrag) {
  subgroupMatrixStore<row_major>(&scratch, at, v, SN);
}

// Staging for gemm-tc.wgsl in arrays of vec4<f16>: one 8-byte store per four elements, fragments
// loaded with the templated subgroupMatrixLoad, whose offset and stride count array elements
// (vec4s). Callers pass offsets in f16 elements; every one is a multiple of 4 (rows are BK + 8
// or BN + 8 halves, fragment columns multiples of 16).

var<workgroup> tile_a: array<vec4<f16>, 2u * A_TILE / 4u>;
var<workgroup> tile_b: array<vec4<f16>, 2u * B_TILE / 4u>;

fn put_a(at: u32, v: vec4<f16>) {
  tile_a[at / 4u] = v;
}

fn put_b(at: u32, v: vec4<f16>) {
  tile_b[at / 4u] = v;
}

fn load_left(at: u32) -> LeftFrag {
  return subgroupMatrixLoad<LeftFrag, row_major>(&tile_a, at / 4u, SA / 4u);
}

fn load_right(at: u32) -> RightFrag {
  if (B_ALONG_K) {
    return subgroupMatrixLoad<RightFrag, col_major>(&tile_b, at / 4u, SB / 4u);
  }
  return subgroupMatrixLoad<RightFrag, row_major>(&tile_b, at / 4u, SB / 4u);
}

fn store_result(at: u32, v: ResultFrag) {
  subgroupMatrixStore<row_major>(&scratch, at, v, SN);
}

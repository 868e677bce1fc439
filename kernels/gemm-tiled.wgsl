// Portable GEMM core (no subgroup matrices): 16x16 threads, each owning TM x TN outputs held in
// registers; A and B tiles of BK steps go through workgroup memory as vec4<f32>, double-buffered
// with the next tile's global loads in flight while the current one is multiplied.
// Appended to gemm-io.wgsl. Expects: TM, TN (4 or 8), BK (a multiple of 4), SPLIT_K (K slices, 1 for
// none; see gemm-tc.wgsl).

const BM: u32 = 16u * TM;
const BN: u32 = 16u * TN;
const THREADS: u32 = 256u;
// Row strides of the tiles in vec4s; the extra vec4 spreads transposed scalar stores over banks.
const AS: u32 = BM / 4u + 1u;
const BS: u32 = BN / 4u + 1u;
const A_TILE: u32 = BK * AS;
const B_TILE: u32 = BK * BS;
const A_LOADS: u32 = BM * BK / 4u / THREADS; // vec4 loads per thread per tile
const B_LOADS: u32 = BN * BK / 4u / THREADS;
const ACC: u32 = TM * TN / 4u;

var<workgroup> tile_a: array<vec4<f32>, 2u * A_TILE>; // [k][m], m contiguous
var<workgroup> tile_b: array<vec4<f32>, 2u * B_TILE>; // [k][n], n contiguous

var<private> next_a: array<vec4<f32>, A_LOADS>; // scalarize
var<private> next_b: array<vec4<f32>, B_LOADS>; // scalarize

fn fetch(tid: u32, m0: u32, n0: u32, k0: u32, cols: BCols) {
  for (var i = 0u; i < A_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    next_a[i] = vec4<f32>(a_load4(m0 + g / (BK / 4u), k0 + 4u * (g % (BK / 4u))));
  }
  for (var i = 0u; i < B_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    if (B_ALONG_K) {
      next_b[i] = vec4<f32>(b_load4(b_cols(n0 + g / (BK / 4u)), k0 + 4u * (g % (BK / 4u))));
    } else {
      // THREADS is a multiple of BN/4, so every load of this thread hits the same columns.
      next_b[i] = vec4<f32>(b_load4(cols, k0 + g / (BN / 4u)));
    }
  }
}

fn stash(tid: u32, buffer: u32) {
  let a_at = buffer * A_TILE;
  for (var i = 0u; i < A_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    let row = g / (BK / 4u);
    let k = 4u * (g % (BK / 4u));
    for (var j = 0u; j < 4u; j++) { // unroll
      tile_a[a_at + (k + j) * AS + row / 4u][row % 4u] = next_a[i][j];
    }
  }
  let b_at = buffer * B_TILE;
  for (var i = 0u; i < B_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    if (B_ALONG_K) {
      let col = g / (BK / 4u);
      let k = 4u * (g % (BK / 4u));
      for (var j = 0u; j < 4u; j++) { // unroll
        tile_b[b_at + (k + j) * BS + col / 4u][col % 4u] = next_b[i][j];
      }
    } else {
      tile_b[b_at + (g / (BN / 4u)) * BS + g % (BN / 4u)] = next_b[i];
    }
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) grid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let slice = wid.z % SPLIT_K;
  gemm_begin_slice(wid.z / SPLIT_K, slice, grid.z / SPLIT_K);
  let tid = lid.y * 16u + lid.x;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  var cols: BCols;
  if (!B_ALONG_K) { cols = b_cols(n0 + 4u * (tid % (BN / 4u))); }

  var acc: array<vec4<f32>, ACC>; // scalarize
  for (var i = 0u; i < ACC; i++) { // unroll
    acc[i] = vec4<f32>(0.0);
  }

  let tiles = (p.k + BK - 1u) / BK / SPLIT_K;
  let k_first = slice * tiles * BK;
  fetch(tid, m0, n0, k_first, cols);
  stash(tid, 0u);
  workgroupBarrier();
  for (var t = 0u; t < tiles; t++) {
    let more = t + 1u < tiles;
    if (more) { fetch(tid, m0, n0, k_first + (t + 1u) * BK, cols); }
    let a_at = (t % 2u) * A_TILE;
    let b_at = (t % 2u) * B_TILE;
    for (var k = 0u; k < rolled(BK); k++) { // unroll
      var av: array<vec4<f32>, TM / 4u>; // scalarize
      var bv: array<vec4<f32>, TN / 4u>; // scalarize
      for (var i = 0u; i < TM / 4u; i++) { // unroll
        av[i] = tile_a[a_at + k * AS + lid.y + 16u * i];
      }
      for (var j = 0u; j < TN / 4u; j++) { // unroll
        bv[j] = tile_b[b_at + k * BS + lid.x + 16u * j];
      }
      for (var i = 0u; i < rolled(TM / 4u); i++) { // unroll
        for (var r = 0u; r < rolled(4u); r++) { // unroll
          for (var j = 0u; j < TN / 4u; j++) { // unroll
            acc[(i * 4u + r) * (TN / 4u) + j] = fma(vec4<f32>(av[i][r]), bv[j], acc[(i * 4u + r) * (TN / 4u) + j]);
          }
        }
      }
    }
    // The other buffer was last read before the previous barrier, so it can be refilled now.
    if (more) { stash(tid, (t + 1u) % 2u); }
    workgroupBarrier();
  }

  for (var i = 0u; i < rolled(TM / 4u); i++) { // unroll
    for (var r = 0u; r < rolled(4u); r++) { // unroll
      for (var j = 0u; j < rolled(TN / 4u); j++) { // unroll
        let m = m0 + (lid.y + 16u * i) * 4u + r;
        let n = n0 + (lid.x + 16u * j) * 4u;
        if (SPLIT_K > 1u) {
          store_partial(m, n, acc[(i * 4u + r) * (TN / 4u) + j]);
        } else {
          store4(m, n, acc[(i * 4u + r) * (TN / 4u) + j]);
        }
      }
    }
  }
}

// Tensor-core GEMM core (subgroup matrices): SG_M x SG_N subgroups of 32 lanes, each owning
// FM x FN result fragments of SM x SN. Per BK step the workgroup stages an A tile [BM][BK] and a
// B tile ([BN][BK] when B runs along K, else [BK][BN]) in workgroup memory as f16, double-buffered,
// with the global loads of the next FETCH_AHEAD steps in flight during the multiplies; every
// subgroup loads each A and B fragment once per SK slice and reuses it across its whole row/column
// of fragments.
// Results leave through a per-subgroup f32 scratch fragment so the shared epilogue (store4)
// applies bias, activation, residual and bounds; with RESULTS_GLOBAL (interior tiles only) they
// are stored straight to the f32 plane at partial_base instead, which frees that workgroup memory
// for deeper K steps: split-K slices stop there, a whole GEMM reads its tile back through store4.
// Appended to gemm-io.wgsl and followed by the fragments: either gemm-tc-frag.wgsl (LeftFrag,
// RightFrag, ResultFrag, frag_begin, mma on subgroup matrices) and a staging file
// (gemm-tc-stage-*.wgsl) that declares tile_a / tile_b and put_a, put_b, load_left, load_right,
// store_result over them, or gemm-tc-emulated.wgsl, which provides all of that without subgroup
// matrices. For hardware fragments the wrapper prepends the subgroup-matrix enables and turns off
// chromium.subgroup_matrix_uniformity (fragment offsets depend on the subgroup id).
// With STREAM_K (results through memory, one batch matrix, no split, a 1-D grid of p.dp_tiles +
// p.sk_workers workgroups) the first p.dp_tiles workgroups run one whole tile each and the rest
// share the remaining tiles' K steps (see gemm-io.wgsl), so a last wave of tiles that would leave
// most SMs idle is spread over all of them.
// Expects: SM, SN, SK (fragment shape), SG_M, SG_N, FM, FN, BK (a multiple of SK and of 4), INTERIOR,
// GROUP_M (row tiles per launch band, 0 for plain row order), SPLIT_K (K slices, 1 for none),
// RESULTS_GLOBAL, FETCH_AHEAD (K steps the global loads run ahead, 1 to 3), STREAM_K.

const LANES: u32 = 32u;
const THREADS: u32 = SG_M * SG_N * LANES;
const BM: u32 = SG_M * FM * SM;
const BN: u32 = SG_N * FN * SN;
// Row strides in f16; +8 keeps rows 16-byte aligned while shifting banks between rows.
const SA: u32 = BK + 8u;
const SB: u32 = select(BN + 8u, BK + 8u, B_ALONG_K);
const A_TILE: u32 = BM * SA;
const B_TILE: u32 = select(BK * SB, BN * SB, B_ALONG_K);
// A tile's vec4s, and each thread's share rounded up: where the threads do not divide a tile
// (5 subgroups down for 160-row tiles), the last round moves only the first ones.
const A_VEC4S: u32 = BM * BK / 4u;
const B_VEC4S: u32 = BN * BK / 4u;
const A_LOADS: u32 = (A_VEC4S + THREADS - 1u) / THREADS;
const B_LOADS: u32 = (B_VEC4S + THREADS - 1u) / THREADS;
const A_EVEN: bool = A_VEC4S % THREADS == 0u;
const B_EVEN: bool = B_VEC4S % THREADS == 0u;
const FRAG: u32 = SM * SN;

var<workgroup> scratch: array<f32, select(SG_M * SG_N * FRAG, FRAG, RESULTS_GLOBAL)>;

/** One thread's share of an A and a B tile, in flight from global memory to registers. */
struct Staged {
  a: array<vec4<f16>, A_LOADS>,
  b: array<vec4<f16>, B_LOADS>,
}

// Thread tid's g-th vec4 of a tile: A row g / (BK/4), k offset 4·(g % (BK/4)); B likewise along
// K for MODE_NK, else k row g / (BN/4) and column 4·(g % (BN/4)) (the same column for every g,
// since THREADS is a multiple of BN/4). INTERIOR tiles (the wrapper's guarantee: no edges, rows
// 4-aligned) skip the bounds checks. Past a tile's last vec4 (uneven shares) nothing moves.
fn fetch(tid: u32, m0: u32, n0: u32, k0: u32, cols: BCols) -> Staged {
  var s: Staged;
  for (var i = 0u; i < A_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    if (A_EVEN || g < A_VEC4S) {
      let row = m0 + g / (BK / 4u);
      let k = k0 + 4u * (g % (BK / 4u));
      if (INTERIOR) {
        s.a[i] = a[(a_base + row * p.k + k) >> 2u];
      } else {
        s.a[i] = a_load4(row, k);
      }
    }
  }
  for (var i = 0u; i < B_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    if (B_EVEN || g < B_VEC4S) {
      if (B_ALONG_K) {
        let col = n0 + g / (BK / 4u);
        let k = k0 + 4u * (g % (BK / 4u));
        if (INTERIOR) {
          s.b[i] = b[(b_base + col * p.k + k) >> 2u];
        } else {
          s.b[i] = b_load4(b_cols(col), k);
        }
      } else {
        let k = k0 + g / (BN / 4u);
        if (INTERIOR) {
          s.b[i] = b[(b_base + k * p.n + cols.n) >> 2u];
        } else {
          s.b[i] = b_load4(cols, k);
        }
      }
    }
  }
  return s;
}

fn stash(tid: u32, buffer: u32, s: Staged) {
  for (var i = 0u; i < A_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    if (A_EVEN || g < A_VEC4S) {
      put_a(buffer * A_TILE + (g / (BK / 4u)) * SA + 4u * (g % (BK / 4u)), s.a[i]);
    }
  }
  for (var i = 0u; i < B_LOADS; i++) { // unroll
    let g = tid + i * THREADS;
    if (B_EVEN || g < B_VEC4S) {
      if (B_ALONG_K) {
        put_b(buffer * B_TILE + (g / (BK / 4u)) * SB + 4u * (g % (BK / 4u)), s.b[i]);
      } else {
        put_b(buffer * B_TILE + (g / (BN / 4u)) * SB + 4u * (g % (BN / 4u)), s.b[i]);
      }
    }
  }
}

/**
 * The output tile of workgroup `wid`: with GROUP_M > 0, workgroups in launch order walk GROUP_M
 * row tiles down before stepping right, so the ones in flight together share A rows and B columns
 * in L2; otherwise row by row.
 */
fn tile_of(wid: vec3u, grid: vec3u) -> vec2u {
  if (GROUP_M == 0u) { return wid.xy; }
  let linear = wid.y * grid.x + wid.x;
  let band = GROUP_M * grid.x;
  let first = (linear / band) * GROUP_M;
  let rows = min(grid.y - first, GROUP_M);
  let within = linear % band;
  return vec2u(within / rows, first + within % rows);
}

/** A run of K steps over one output tile: a whole tile, or (stream-K) one worker's part of it. */
struct Work {
  tile: vec2u,  // (column tile, row tile)
  step: u32,    // first K step
  steps: u32,
  slot: u32,    // WHOLE, or the slot of the f32 buffer this part's sums go to (sk_slot_base)
  // stream-K workers: this worker, the tail step after this part, the tail step it stops at
  worker: u32,
  next: u32,
  end: u32,
}

const WHOLE: u32 = 0xffffffffu;

fn tiles_across() -> u32 {
  return (p.n + BN - 1u) / BN;
}

/** The STREAM_K grid's tile t (row-major, launched in order). */
fn tile_at(t: u32) -> vec2u {
  return vec2u(t % tiles_across(), t / tiles_across());
}

/** Tail steps of a STREAM_K grid whose tiles take `steps` K steps each. */
fn tail_steps(steps: u32) -> u32 {
  return (tiles_across() * ((p.m + BM - 1u) / BM) - p.dp_tiles) * steps;
}

/** Worker `worker`'s part that starts at tail step `at` (it stops at `end`). */
fn tail_work(worker: u32, at: u32, end: u32, steps: u32) -> Work {
  let r = at / steps;
  let first = at % steps;
  let run = min(steps - first, end - at);
  var w: Work;
  w.tile = tile_at(p.dp_tiles + r);
  w.step = first;
  w.steps = run;
  w.slot = select(r * SK_PARTS + worker - sk_worker(r * steps, tail_steps(steps)), WHOLE, run == steps);
  w.worker = worker;
  w.next = at + run;
  w.end = end;
  return w;
}

fn first_work(wid: vec3u, grid: vec3u, slice: u32, steps: u32) -> Work {
  var w: Work;
  w.slot = WHOLE;
  if (!STREAM_K) {
    w.tile = tile_of(wid, grid);
    w.step = slice * steps;
    w.steps = steps;
    return w;
  }
  if (wid.x < p.dp_tiles) {
    w.tile = tile_at(wid.x);
    w.steps = steps;
    return w;
  }
  let worker = wid.x - p.dp_tiles;
  let total = tail_steps(steps);
  let begin = sk_begin(worker, total);
  let end = sk_begin(worker + 1u, total);
  if (begin == end) { return w; } // steps 0: an idle worker (fewer tail steps than workers)
  return tail_work(worker, begin, end, steps);
}

@compute @workgroup_size(THREADS)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) grid: vec3u,
  @builtin(local_invocation_index) tid: u32,
) {
  // Layer z is K slice z % SPLIT_K of batch matrix z / SPLIT_K (STREAM_K: one batch, one slice).
  let slice = wid.z % SPLIT_K;
  gemm_begin_slice(wid.z / SPLIT_K, slice, grid.z / SPLIT_K);
  // Subgroups are 32 consecutive invocations on the devices that offer subgroup matrices here.
  let sg = tid / LANES;
  let lane = tid % LANES;
  frag_begin(lane);
  let sg_m = sg % SG_M;
  let sg_n = sg / SG_M;
  // K steps of a whole tile of this slice (the wrapper makes SPLIT_K divide the tile count).
  let per_tile = (p.k + BK - 1u) / BK / SPLIT_K;
  var work = first_work(wid, grid, slice, per_tile);
  if (work.steps == 0u) { return; }
  // One run of K steps, or (stream-K workers) each part in turn; every branch below is uniform
  // across the workgroup.
  loop {
    let m0 = work.tile.y * BM;
    let n0 = work.tile.x * BN;
    var cols: BCols;
    if (!B_ALONG_K) { cols = b_cols(n0 + 4u * (tid % (BN / 4u))); }

    var acc: array<array<ResultFrag, FN>, FM>; // scalarize
    // Zeroed explicitly: a declaration inside a loop is not re-zeroed on every pass by every
    // compiler (lavapipe kept a stream-K worker's sums from its previous part).
    for (var i = 0u; i < FM; i++) { // unroll
      for (var j = 0u; j < FN; j++) { // unroll
        acc[i][j] = ResultFrag();
      }
    }

    let tiles = work.steps;
    let k_first = work.step * BK;
    // Global loads run FETCH_AHEAD K steps ahead of the multiplies, in a ring of register stages
    // (unrolled by FETCH_AHEAD so each stage is its own variables): with one, a load has one K
    // step of multiplies to arrive before it is stashed.
    var staged: array<Staged, FETCH_AHEAD>; // scalarize
    stash(tid, 0u, fetch(tid, m0, n0, k_first, cols));
    for (var i = 0u; i < FETCH_AHEAD - 1u; i++) { // unroll
      staged[i + 1u] = fetch(tid, m0, n0, k_first + min(i + 1u, tiles - 1u) * BK, cols);
    }
    workgroupBarrier();
    for (var t0 = 0u; t0 < tiles; t0 += FETCH_AHEAD) {
      for (var u = 0u; u < FETCH_AHEAD; u++) { // unroll
        let t = t0 + u;
        if (FETCH_AHEAD == 1u || t < tiles) {
          // Always fetch (the last tile again at the end) so the loads issue without a branch; the
          // extra stashes after the last tile fill a buffer nobody reads any more.
          staged[u] = fetch(tid, m0, n0, k_first + min(t + FETCH_AHEAD, tiles - 1u) * BK, cols);
          let a_at = (t % 2u) * A_TILE + sg_m * FM * SM * SA;
          let b_at = (t % 2u) * B_TILE;
          for (var kk = 0u; kk < BK; kk += SK) { // unroll
            var left: array<LeftFrag, FM>; // scalarize
            for (var i = 0u; i < FM; i++) { // unroll
              left[i] = load_left(a_at + i * SM * SA + kk);
            }
            for (var j = 0u; j < FN; j++) { // unroll
              let col = (sg_n * FN + j) * SN;
              let right = load_right(b_at + select(kk * SB + col, col * SB + kk, B_ALONG_K));
              for (var i = 0u; i < FM; i++) { // unroll
                acc[i][j] = mma(left[i], right, acc[i][j]);
              }
            }
          }
          // Tile t + 1 goes to the other buffer, last read before the previous barrier.
          stash(tid, (t + 1u) % 2u, staged[(u + 1u) % FETCH_AHEAD]);
          workgroupBarrier();
        }
      }
    }

    if (STREAM_K && work.slot != WHOLE) {
      // A part of a shared tail tile: its sums wait in their slot for gemm-stream-reduce.wgsl.
      let base = sk_slot_base(work.slot, BM * BN);
      for (var i = 0u; i < FM; i++) { // unroll
        for (var j = 0u; j < FN; j++) { // unroll
          store_global(base + (sg_m * FM + i) * SM * BN + (sg_n * FN + j) * SN, BN, acc[i][j]);
        }
      }
    } else {
      if (RESULTS_GLOBAL) {
        for (var i = 0u; i < FM; i++) { // unroll
          for (var j = 0u; j < FN; j++) { // unroll
            store_global(partial_base + (m0 + (sg_m * FM + i) * SM) * p.n + n0 + (sg_n * FN + j) * SN, p.n, acc[i][j]);
          }
        }
        if (SPLIT_K > 1u) { return; }
        // Each subgroup reads back only what it stored, but across lanes: the barrier makes it visible.
        storageBarrier();
      }
      // Otherwise every subgroup has its own scratch fragment: sharing one between subgroups in turns
      // (so a 4x4-subgroup workgroup could stage 32-deep K steps) ran 1.5-4x slower on the H100.
      let mine = sg * FRAG;
      for (var i = 0u; i < FM; i++) { // unroll
        for (var j = 0u; j < FN; j++) { // unroll
          if (!RESULTS_GLOBAL) {
            store_result(mine, acc[i][j]);
            workgroupBarrier();
          }
          let row0 = m0 + (sg_m * FM + i) * SM;
          let col0 = n0 + (sg_n * FN + j) * SN;
          for (var q = 0u; q < FRAG / 4u / LANES; q++) { // unroll
            let e = lane + q * LANES;
            let r = e / (SN / 4u);
            let c = 4u * (e % (SN / 4u));
            let at = mine + r * SN + c;
            var v: vec4<f32>;
            if (RESULTS_GLOBAL) {
              v = partials[(partial_base + (row0 + r) * p.n + col0 + c) >> 2u];
            } else {
              v = vec4<f32>(scratch[at], scratch[at + 1u], scratch[at + 2u], scratch[at + 3u]);
            }
            if (SPLIT_K > 1u) {
              store_partial(row0 + r, col0 + c, v);
            } else {
              store4(row0 + r, col0 + c, v);
            }
          }
          if (!RESULTS_GLOBAL) { workgroupBarrier(); }
        }
      }
    }

    if (!STREAM_K || work.next == work.end) { break; }
    work = tail_work(work.worker, work.next, work.end, per_tile);
  }
}

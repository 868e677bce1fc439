// Flash-style attention on subgroup matrices (tensor cores), f16 storage, f32 softmax.
// A workgroup of NSG subgroups (32 lanes each) owns BQ = NSG·RQ·FM query rows of one (batch,
// head); each subgroup owns RQ row fragments. Per block of BKEY keys:
//   1. kv_enter makes the block's K and V fragments reachable: staged through workgroup memory
//      (attention_mma_kv_staged.wgsl, zero-padded past the head dim and the last key; with RING the
//      next block is staged by kv_midblock, between steps 2 and 3, into a second buffer) or read
//      straight from storage (attention_mma_kv_direct*.wgsl, the last block shifted back so it
//      ends at the last key; keys it repeats are masked);
//   2. each subgroup computes S = Q·Kᵀ for its rows (Q fragments stay in registers for the whole
//      key loop) and stores S (f32) to scratch;
//   3. lanes own rows (LPR lanes per row): masked online softmax in f32, in the log2 domain,
//      writing P as f16 in one pass against the running max. The running max is only raised when
//      a block beats it by more than SLACK (log2 units; the row is then redone), so the f32 output
//      fragments are rescaled rarely, through scratch, and only when some row of the workgroup
//      needed it (a workgroup-uniform decision);
//   4. O += P·V with P fragments from workgroup memory.
// Scores never reach storage. Fragment offsets depend on the subgroup index, so the wrapper turns
// off chromium.subgroup_matrix_uniformity; they are uniform within each subgroup.
// Appended to attention_mma_ops.wgsl (hardware fragments) or attention_mma_emulated.wgsl (the same
// functions without subgroup matrices, for testing the tiling anywhere) and to one K/V access file.
// Expects from the prelude: FM, FN, FK (fragment shape), NSG, RQ, BKEY, D, DP (D padded to the
// fragments), KS (stage row stride, f16), PS (P row stride), SS (S row stride, f32; O is parked
// there BKEY columns at a time), STAGE (stage size, f16), LPR (lanes per row: 32 / (RQ·FM)),
// CAUSAL, REAL_SUBGROUPS, SLACK (f32), XSKIP (0; bits skip phases, for profiling); from the
// wrapper: valid_queries() and valid_keys() (p.nq and p.nk, or counts a kernel left on the GPU for
// fixed-capacity inputs: keys past valid_keys() are masked and, staged, never loaded; workgroups
// whose rows all lie past valid_queries() return at once and rows past it are never written).

struct Params {
  nq: u32,
  nk: u32,
  heads: u32,
  scale_log2: f32,
}

const LANES: u32 = 32u;
const WG: u32 = NSG * LANES;
const ROWS: u32 = RQ * FM;
const BQ: u32 = NSG * ROWS;
const QK_STEPS: u32 = DP / FK;
const O_FRAGS: u32 = DP / FN;
const S_FRAGS: u32 = BKEY / FN;
const PV_STEPS: u32 = BKEY / FK;
const CH: u32 = D / 8u;
const CHP: u32 = DP / 8u;
const GROUPS: u32 = BKEY / 4u;
// O leaves its fragments through scratch a chunk of BKEY columns at a time, so scratch does not grow
// with the head dim.
const O_CHUNK: u32 = BKEY / FN;
const O_CHUNKS: u32 = (O_FRAGS + O_CHUNK - 1u) / O_CHUNK;
const MASKED: f32 = -3.0e38;
const MASK_LIMIT: f32 = -1.0e38;

@group(0) @binding(0) var<uniform> p: Params;
// Rows of 8 halves: every head row is D / 8 of them (the wrapper requires D % 8 == 0).
// K and V (bindings 2 and 3) are declared by the K/V access file.
@group(0) @binding(1) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<u32>>;

// Workgroup arrays hold vectors so staging writes 8 or 16 bytes per store (scalar f16 stores
// made staged tensor-core kernels several times slower on the H100); offsets, strides and
// fragment positions are multiples of 4 elements, and the fragment ops divide them by 4.
// The Q tile, until its fragments are in registers; then the K/V stage (when staged).
var<workgroup> stage: array<vec4<f16>, STAGE / 4u>;
var<workgroup> scratch: array<vec4<f32>, NSG * ROWS * SS / 4u>;
var<workgroup> ptile: array<vec4<f16>, BQ * PS / 4u>;
var<workgroup> rescale_flag: u32;

// Eight halves (as four u32) at stage element `at`, a multiple of 8.
fn put8(at: u32, x: vec4<u32>) {
  stage[at / 4u] = vec4<f16>(bitcast<vec2<f16>>(x.x), bitcast<vec2<f16>>(x.y));
  stage[at / 4u + 1u] = vec4<f16>(bitcast<vec2<f16>>(x.z), bitcast<vec2<f16>>(x.w));
}

// Four scaled scores of one row, masked before `first` (keys an earlier block already covered),
// from `end` (the valid keys) and (causal) past the query's own index.
fn score4(at: u32, key: u32, first: u32, end: u32, qi: u32, edge: bool) -> vec4<f32> {
  var t = scratch[at / 4u] * p.scale_log2;
  if (edge) {
    let keys = vec4<u32>(key) + vec4<u32>(0u, 1u, 2u, 3u);
    var keep = (keys >= vec4<u32>(first)) & (keys < vec4<u32>(end));
    if (CAUSAL) { keep = keep & (keys <= vec4<u32>(qi)); }
    t = select(vec4<f32>(MASKED), t, keep);
  }
  return t;
}

// Writes exp2(t - m) as f16 at `at` and returns the sum P·V will actually use (the f16 values).
fn write_p4(at: u32, t: vec4<f32>, m: f32) -> f32 {
  let ph = vec4<f16>(select(vec4<f32>(0.0), exp2(t - vec4<f32>(m)), t > vec4<f32>(MASK_LIMIT)));
  ptile[at / 4u] = ph;
  let pf = vec4<f32>(ph);
  return (pf.x + pf.y) + (pf.z + pf.w);
}

// Where output fragment (r, c) is parked in its subgroup's scratch rows: O leaves a chunk of
// O_CHUNK fragments (BKEY columns) at a time, fragment c in chunk c / O_CHUNK.
fn o_parking(s_base: u32, r: u32, c: u32) -> u32 {
  return s_base + r * FM * SS + (c % O_CHUNK) * FN;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) li: u32,
  @builtin(subgroup_id) sg_id: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
) {
  // Emulated fragments group lanes by invocation index; hardware ones by the real subgroup.
  let sg = select(li / LANES, sg_id, REAL_SUBGROUPS);
  let lane = select(li % LANES, sg_lane, REAL_SUBGROUPS);
  frag_begin(sg, lane);
  let b = wg.z;
  let h = wg.y;
  let q0 = wg.x * BQ;
  // Uniform (a uniform or read-only storage at a constant index): the return keeps every later
  // barrier in uniform control flow.
  let n_q = valid_queries();
  let n_k = valid_keys();
  if (q0 >= n_q) { return; }

  // Q tile [BQ × DP] through the stage, then into registers for the whole key loop.
  for (var g = li; g < BQ * CHP; g += WG) {
    let r = g / CHP;
    let c = g % CHP;
    var x = vec4<u32>();
    if (q0 + r < n_q && c < CH) { x = q[((b * p.nq + q0 + r) * p.heads + h) * CH + c]; }
    put8(r * KS + c * 8u, x);
  }
  workgroupBarrier();
  var qf: array<Left, RQ * QK_STEPS>; // scalarize
  for (var r = 0u; r < RQ; r++) { // unroll
    for (var kk = 0u; kk < QK_STEPS; kk++) { // unroll
      qf[r * QK_STEPS + kk] = load_q((sg * ROWS + r * FM) * KS + kk * FK);
    }
  }
  var oacc: array<Acc, RQ * O_FRAGS>; // scalarize
  for (var i = 0u; i < RQ * O_FRAGS; i++) { // unroll
    oacc[i] = frag_zero();
  }

  let lane_row = lane / LPR;
  let part = lane % LPR;
  let wrow = sg * ROWS + lane_row;
  let qi = q0 + wrow;
  let s_base = sg * ROWS * SS;
  var m = MASKED;
  var l = 0.0;
  var alpha = 1.0;

  var key_end = n_k;
  if (CAUSAL) { key_end = min(n_k, q0 + BQ); }
  kv_begin(li, b, h, key_end);
  for (var key0 = 0u; key0 < key_end; key0 += BKEY) {
    let kstart = kv_enter(li, key0, key_end);

    // S = Q·Kᵀ, one column of fragments at a time so only RQ accumulators are live.
    if ((XSKIP & 1u) == 0u) {
      for (var c = 0u; c < S_FRAGS; c++) { // unroll
        var acc: array<Acc, RQ>; // scalarize
        for (var r = 0u; r < RQ; r++) { // unroll
          acc[r] = frag_zero();
        }
        for (var kk = 0u; kk < QK_STEPS; kk++) { // unroll
          let kt = load_kt(c * FN, kk * FK);
          for (var r = 0u; r < RQ; r++) { // unroll
            acc[r] = frag_mma(qf[r * QK_STEPS + kk], kt, acc[r]);
          }
        }
        for (var r = 0u; r < RQ; r++) { // unroll
          store_acc(s_base + r * FM * SS + c * FN, acc[r], SS);
        }
      }
    }
    workgroupBarrier();
    kv_midblock(li, key0, key_end);

    // Online softmax of this block, one row per LPR lanes, in one pass against the running max.
    let edge = kstart != key0 || kstart + BKEY > n_k || (CAUSAL && kstart + BKEY > q0 + 1u);
    let s_row = s_base + lane_row * SS;
    let p_row = wrow * PS;
    var block_max = MASKED;
    var sum = 0.0;
    if ((XSKIP & 2u) == 0u) {
      for (var g = part; g < GROUPS; g += LPR) {
        let t = score4(s_row + 4u * g, kstart + 4u * g, key0, n_k, qi, edge);
        block_max = max(block_max, max(max(t.x, t.y), max(t.z, t.w)));
        sum += write_p4(p_row + 4u * g, t, m);
      }
    }
    if (LPR == 2u) { block_max = max(block_max, subgroupShuffleXor(block_max, 1u)); }
    alpha = 1.0;
    if (block_max > m + SLACK) {
      // The running max is too far below this block (or unset): raise it and redo the row.
      alpha = exp2(m - block_max);
      if (m > MASK_LIMIT) { rescale_flag = 1u; }
      m = block_max;
      l *= alpha;
      sum = 0.0;
      for (var g = part; g < GROUPS; g += LPR) {
        let t = score4(s_row + 4u * g, kstart + 4u * g, key0, n_k, qi, edge);
        sum += write_p4(p_row + 4u * g, t, m);
      }
    }
    if (LPR == 2u) { sum += subgroupShuffleXor(sum, 1u); }
    l += sum;

    // Also the barrier that publishes P and retires the reads of S.
    let rescale = workgroupUniformLoad(&rescale_flag);
    if (rescale != 0u) {
      if (li == 0u) { rescale_flag = 0u; }
      for (var ch = 0u; ch < O_CHUNKS; ch++) { // unroll
        for (var r = 0u; r < RQ; r++) { // unroll
          for (var c = 0u; c < O_FRAGS; c++) { // unroll
            if (c / O_CHUNK == ch) { store_acc(o_parking(s_base, r, c), oacc[r * O_FRAGS + c], SS); }
          }
        }
        workgroupBarrier();
        let o_row = s_base + lane_row * SS;
        for (var x = part; x < BKEY / 4u; x += LPR) { scratch[o_row / 4u + x] *= alpha; }
        workgroupBarrier();
        for (var r = 0u; r < RQ; r++) { // unroll
          for (var c = 0u; c < O_FRAGS; c++) { // unroll
            if (c / O_CHUNK == ch) { oacc[r * O_FRAGS + c] = load_acc(o_parking(s_base, r, c), SS); }
          }
        }
        // The next chunk, or the next block's S, lands where this one was parked.
        workgroupBarrier();
      }
    }

    // O += P·V
    if ((XSKIP & 4u) == 0u) {
      for (var kc = 0u; kc < PV_STEPS; kc++) { // unroll
        var pl: array<Left, RQ>; // scalarize
        for (var r = 0u; r < RQ; r++) { // unroll
          pl[r] = load_p((sg * ROWS + r * FM) * PS + kc * FK);
        }
        for (var c = 0u; c < O_FRAGS; c++) { // unroll
          let vf = load_v(kc * FK, c * FN);
          for (var r = 0u; r < RQ; r++) { // unroll
            oacc[r * O_FRAGS + c] = frag_mma(pl[r], vf, oacc[r * O_FRAGS + c]);
          }
        }
      }
    }
  }

  // Epilogue: O through scratch a chunk at a time, divided by the row sums, packed back to f16.
  let inv = 1.0 / l;
  let dst = ((b * p.nq + qi) * p.heads + h) * CH;
  for (var ch = 0u; ch < O_CHUNKS; ch++) { // unroll
    workgroupBarrier();
    for (var r = 0u; r < RQ; r++) { // unroll
      for (var c = 0u; c < O_FRAGS; c++) { // unroll
        if (c / O_CHUNK == ch) { store_acc(o_parking(s_base, r, c), oacc[r * O_FRAGS + c], SS); }
      }
    }
    workgroupBarrier();
    if (qi < n_q) {
      let o_row = s_base + lane_row * SS;
      for (var x = part; x < BKEY / 8u; x += LPR) {
        let c8 = ch * (BKEY / 8u) + x;
        if (c8 < CH) {
          let at = o_row + 8u * x;
          let lo = vec4<f16>(scratch[at / 4u] * inv);
          let hi = vec4<f16>(scratch[at / 4u + 1u] * inv);
          out[dst + c8] = vec4<u32>(bitcast<u32>(lo.xy), bitcast<u32>(lo.zw), bitcast<u32>(hi.xy), bitcast<u32>(hi.zw));
        }
      }
    }
  }
}

// Flash-style attention on subgroup matrices (tensor cores), f16 storage, f32 softmax.
// A workgroup of NSG subgroups (32 lanes each) owns BQ = NSG·RQ·FM query rows of one (batch,
// head); each subgroup owns RQ row fragments. Per block of BKEY keys:
//   1. all lanes stage K and V [BKEY × DP] into workgroup memory, zero-padded past the head dim D
//      and past the last key (the next block is already in flight in registers when PREFETCH);
//   2. each subgroup computes S = Q·Kᵀ for its rows (Q fragments stay in registers for the whole
//      key loop; Kᵀ fragments load column-major from the K stage) and stores S (f32) to scratch;
//   3. lanes own rows (LPR lanes per row): masked online softmax in f32, in the log2 domain,
//      writing P as f16. The running max is only raised when a block beats it by more than SLACK
//      (log2 units), so the f32 output fragments are rescaled rarely, through scratch, and only
//      when some row of the workgroup needed it (a workgroup-uniform decision);
//   4. O += P·V with P fragments from workgroup memory and V fragments from the V stage.
// Scores never reach storage. Fragment offsets depend on the subgroup index, so the wrapper turns
// off chromium.subgroup_matrix_uniformity; they are uniform within each subgroup.
// Appended to attention_mma_ops.wgsl (hardware fragments) or attention_mma_emulated.wgsl (the same
// functions on plain arrays, for testing the tiling on devices without subgroup matrices).
// Expects from the prelude: FM, FN, FK (fragment shape), NSG, RQ, BKEY, D, DP (D padded to the
// fragments), KS (stage row stride, f16), PS (P row stride), SS (S row stride, f32), OS (O row
// stride), SCR_ROW (max(SS, OS)), STAGE (stage size, f16), PF (vec4 loads per thread per tensor),
// LPR (lanes per row: 32 / (RQ·FM)), CAUSAL, PREFETCH, REAL_SUBGROUPS, SLACK (f32).

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
const KV_CHUNKS: u32 = BKEY * CHP;
const V_OFF: u32 = BKEY * KS;
const GROUPS: u32 = BKEY / 4u;
const MASKED: f32 = -3.0e38;
const MASK_LIMIT: f32 = -1.0e38;

@group(0) @binding(0) var<uniform> p: Params;
// Rows of 8 halves: every head row is D / 8 of them (the wrapper requires D % 8 == 0).
@group(0) @binding(1) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<u32>>;

var<workgroup> stage: array<f16, STAGE>;
var<workgroup> scratch: array<f32, NSG * ROWS * SCR_ROW>;
var<workgroup> ptile: array<f16, BQ * PS>;
var<workgroup> rescale_flag: u32;

var<private> next_k: array<vec4<u32>, PF>;
var<private> next_v: array<vec4<u32>, PF>;

fn fetch_kv(li: u32, b: u32, h: u32, key0: u32) {
  for (var i = 0u; i < PF; i++) {
    let g = li + i * WG;
    let key = key0 + g / CHP;
    let c = g % CHP;
    var kx = vec4<u32>();
    var vx = vec4<u32>();
    if (g < KV_CHUNKS && key < p.nk && c < CH) {
      let at = ((b * p.nk + key) * p.heads + h) * CH + c;
      kx = k[at];
      vx = v[at];
    }
    next_k[i] = kx;
    next_v[i] = vx;
  }
}

fn put8(at: u32, x: vec4<u32>) {
  for (var e = 0u; e < 4u; e++) {
    let two = bitcast<vec2<f16>>(x[e]);
    stage[at + 2u * e] = two.x;
    stage[at + 2u * e + 1u] = two.y;
  }
}

fn stash_kv(li: u32) {
  for (var i = 0u; i < PF; i++) {
    let g = li + i * WG;
    if (g < KV_CHUNKS) {
      let at = (g / CHP) * KS + (g % CHP) * 8u;
      put8(at, next_k[i]);
      put8(V_OFF + at, next_v[i]);
    }
  }
}

// Four scaled scores of one row, masked past the last key and (causal) past the query's own index.
fn score4(at: u32, key: u32, qi: u32, edge: bool) -> vec4<f32> {
  var t = vec4<f32>(scratch[at], scratch[at + 1u], scratch[at + 2u], scratch[at + 3u]) * p.scale_log2;
  if (edge) {
    let keys = vec4<u32>(key) + vec4<u32>(0u, 1u, 2u, 3u);
    var keep = keys < vec4<u32>(p.nk);
    if (CAUSAL) { keep = keep & (keys <= vec4<u32>(qi)); }
    t = select(vec4<f32>(MASKED), t, keep);
  }
  return t;
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

  // Q tile [BQ × DP] through the stage, then into registers for the whole key loop.
  for (var g = li; g < BQ * CHP; g += WG) {
    let r = g / CHP;
    let c = g % CHP;
    var x = vec4<u32>();
    if (q0 + r < p.nq && c < CH) { x = q[((b * p.nq + q0 + r) * p.heads + h) * CH + c]; }
    put8(r * KS + c * 8u, x);
  }
  workgroupBarrier();
  var qf: array<Left, RQ * QK_STEPS>;
  for (var r = 0u; r < RQ; r++) {
    for (var kk = 0u; kk < QK_STEPS; kk++) {
      qf[r * QK_STEPS + kk] = load_q((sg * ROWS + r * FM) * KS + kk * FK);
    }
  }
  var oacc: array<Acc, RQ * O_FRAGS>;
  for (var i = 0u; i < RQ * O_FRAGS; i++) { oacc[i] = frag_zero(); }

  let lane_row = lane / LPR;
  let part = lane % LPR;
  let wrow = sg * ROWS + lane_row;
  let qi = q0 + wrow;
  let s_base = sg * ROWS * SCR_ROW;
  var m = MASKED;
  var l = 0.0;
  var alpha = 1.0;

  var key_end = p.nk;
  if (CAUSAL) { key_end = min(p.nk, q0 + BQ); }
  if (PREFETCH) { fetch_kv(li, b, h, 0u); }
  for (var key0 = 0u; key0 < key_end; key0 += BKEY) {
    if (!PREFETCH) { fetch_kv(li, b, h, key0); }
    workgroupBarrier();
    stash_kv(li);
    workgroupBarrier();
    if (PREFETCH && key0 + BKEY < key_end) { fetch_kv(li, b, h, key0 + BKEY); }

    // S = Q·Kᵀ, one column of fragments at a time so only RQ accumulators are live.
    for (var c = 0u; c < S_FRAGS; c++) {
      var acc: array<Acc, RQ>;
      for (var r = 0u; r < RQ; r++) { acc[r] = frag_zero(); }
      for (var kk = 0u; kk < QK_STEPS; kk++) {
        let kt = load_kt(c * FN * KS + kk * FK);
        for (var r = 0u; r < RQ; r++) { acc[r] = frag_mma(qf[r * QK_STEPS + kk], kt, acc[r]); }
      }
      for (var r = 0u; r < RQ; r++) { store_acc(s_base + r * FM * SS + c * FN, acc[r], SS); }
    }
    workgroupBarrier();

    // Online softmax of this block, one row per LPR lanes.
    let edge = key0 + BKEY > p.nk || (CAUSAL && key0 + BKEY > q0 + 1u);
    let s_row = s_base + lane_row * SS;
    var block_max = MASKED;
    for (var g = part; g < GROUPS; g += LPR) {
      let t = score4(s_row + 4u * g, key0 + 4u * g, qi, edge);
      block_max = max(block_max, max(max(t.x, t.y), max(t.z, t.w)));
    }
    if (LPR == 2u) { block_max = max(block_max, subgroupShuffleXor(block_max, 1u)); }
    alpha = 1.0;
    if (block_max > m + SLACK) {
      alpha = exp2(m - block_max);
      if (m > MASK_LIMIT) { rescale_flag = 1u; }
      m = block_max;
      l *= alpha;
    }
    var sum = 0.0;
    let p_row = wrow * PS;
    for (var g = part; g < GROUPS; g += LPR) {
      let t = score4(s_row + 4u * g, key0 + 4u * g, qi, edge);
      let ph = vec4<f16>(select(vec4<f32>(0.0), exp2(t - vec4<f32>(m)), t > vec4<f32>(MASK_LIMIT)));
      let at = p_row + 4u * g;
      ptile[at] = ph.x;
      ptile[at + 1u] = ph.y;
      ptile[at + 2u] = ph.z;
      ptile[at + 3u] = ph.w;
      // Sum what P·V will actually use (P rounded to f16).
      let pf = vec4<f32>(ph);
      sum += (pf.x + pf.y) + (pf.z + pf.w);
    }
    if (LPR == 2u) { sum += subgroupShuffleXor(sum, 1u); }
    l += sum;

    // Also the barrier that publishes P and retires the reads of S.
    let rescale = workgroupUniformLoad(&rescale_flag);
    if (rescale != 0u) {
      if (li == 0u) { rescale_flag = 0u; }
      for (var r = 0u; r < RQ; r++) {
        for (var c = 0u; c < O_FRAGS; c++) { store_acc(s_base + r * FM * OS + c * FN, oacc[r * O_FRAGS + c], OS); }
      }
      workgroupBarrier();
      let o_row = s_base + lane_row * OS;
      for (var c = part; c < DP; c += LPR) { scratch[o_row + c] *= alpha; }
      workgroupBarrier();
      for (var r = 0u; r < RQ; r++) {
        for (var c = 0u; c < O_FRAGS; c++) { oacc[r * O_FRAGS + c] = load_acc(s_base + r * FM * OS + c * FN, OS); }
      }
    }

    // O += P·V
    for (var kc = 0u; kc < PV_STEPS; kc++) {
      var pl: array<Left, RQ>;
      for (var r = 0u; r < RQ; r++) { pl[r] = load_p((sg * ROWS + r * FM) * PS + kc * FK); }
      for (var c = 0u; c < O_FRAGS; c++) {
        let vf = load_v(V_OFF + kc * FK * KS + c * FN);
        for (var r = 0u; r < RQ; r++) { oacc[r * O_FRAGS + c] = frag_mma(pl[r], vf, oacc[r * O_FRAGS + c]); }
      }
    }
  }

  // Epilogue: O through scratch, divided by the row sums, packed back to f16.
  workgroupBarrier();
  for (var r = 0u; r < RQ; r++) {
    for (var c = 0u; c < O_FRAGS; c++) { store_acc(s_base + r * FM * OS + c * FN, oacc[r * O_FRAGS + c], OS); }
  }
  workgroupBarrier();
  if (qi < p.nq) {
    let inv = 1.0 / l;
    let o_row = s_base + lane_row * OS;
    let dst = ((b * p.nq + qi) * p.heads + h) * CH;
    for (var c = part; c < CH; c += LPR) {
      let at = o_row + 8u * c;
      var w: vec4<u32>;
      for (var e = 0u; e < 4u; e++) {
        w[e] = bitcast<u32>(vec2<f16>(vec2<f32>(scratch[at + 2u * e], scratch[at + 2u * e + 1u]) * inv));
      }
      out[dst + c] = w;
    }
  }
}

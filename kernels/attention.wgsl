// Scaled-dot-product attention without materialising the scores (portable: no subgroups, no
// subgroup matrices). A workgroup owns BQ query rows of one (batch, head); G threads share a row,
// each holding DG = D / G columns of q and of the output accumulator in registers. Keys and values
// stream through workgroup memory BKEY at a time (as f32), and every row keeps an online softmax
// (running max m and sum l) so only one block of scores ever exists, in registers.
// With G > 1 the partial dot products over each thread's column slice meet in workgroup memory.
// Scores are kept in the log2 domain (q is pre-multiplied by scale·log2 e) so exp2 does the work.
// Fixed-capacity inputs: valid_queries() and valid_keys() (appended by the wrapper: p.nq and p.nk,
// or counts a kernel left on the GPU) bound the rows that are real. Keys past valid_keys() are
// never loaded (zeros in the stage) and masked; workgroups whose rows all lie past valid_queries()
// return at once, and rows past it are never written.
// Expects from the prelude: T, D, G, BQ, BKEY, PARTIAL (BQ·G·BKEY, or 1 when G = 1), CAUSAL.

struct Params {
  nq: u32,
  nk: u32,
  heads: u32,
  scale_log2: f32,
}

const DG: u32 = D / G;
const WG: u32 = BQ * G;
// Masked scores: far below any real score but finite, so m - m stays 0 instead of NaN.
const MASKED: f32 = -3.0e38;
const MASK_LIMIT: f32 = -1.0e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<T>;
@group(0) @binding(2) var<storage, read> k: array<T>;
@group(0) @binding(3) var<storage, read> v: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

var<workgroup> ks: array<f32, BKEY * D>;
var<workgroup> vs: array<f32, BKEY * D>;
var<workgroup> partial: array<f32, PARTIAL>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = li / G;
  let part = li % G;
  let q_first = wg.x * BQ;
  let qi = q_first + row;
  let h = wg.y;
  let b = wg.z;
  let hd = p.heads * D;
  let col0 = h * D + part * DG;
  // Both are uniform (a uniform or read-only storage at a constant index), so the return below and
  // the key loop keep the barriers in uniform control flow.
  let n_q = valid_queries();
  let n_k = valid_keys();
  if (q_first >= n_q) { return; }

  // Rows past the end read the last real row (never written back) so no load goes out of range.
  let q_base = (b * p.nq + min(qi, p.nq - 1u)) * hd + col0;
  var qv: array<f32, DG>;
  var o: array<f32, DG>;
  for (var c = 0u; c < DG; c++) {
    qv[c] = f32(q[q_base + c]) * p.scale_log2;
    o[c] = 0.0;
  }
  var m = MASKED;
  var l = 0.0;

  var key_end = n_k;
  if (CAUSAL) { key_end = min(n_k, q_first + BQ); }
  for (var key0 = 0u; key0 < key_end; key0 += BKEY) {
    workgroupBarrier();
    for (var i = li; i < BKEY * D; i += WG) {
      let key = key0 + i / D;
      var kx = 0.0;
      var vx = 0.0;
      if (key < n_k) {
        let at = (b * p.nk + key) * hd + h * D + i % D;
        kx = f32(k[at]);
        vx = f32(v[at]);
      }
      ks[i] = kx;
      vs[i] = vx;
    }
    workgroupBarrier();

    var s: array<f32, BKEY>;
    for (var j = 0u; j < BKEY; j++) {
      var acc = 0.0;
      let kr = j * D + part * DG;
      for (var c = 0u; c < DG; c++) { acc += qv[c] * ks[kr + c]; }
      s[j] = acc;
    }
    if (G > 1u) {
      let mine = (row * G + part) * BKEY;
      for (var j = 0u; j < BKEY; j++) { partial[mine + j] = s[j]; }
      workgroupBarrier();
      for (var j = 0u; j < BKEY; j++) {
        var t = 0.0;
        for (var g = 0u; g < G; g++) { t += partial[(row * G + g) * BKEY + j]; }
        s[j] = t;
      }
    }

    var block_max = MASKED;
    for (var j = 0u; j < BKEY; j++) {
      let key = key0 + j;
      let keep = key < n_k && (!CAUSAL || key <= qi);
      s[j] = select(MASKED, s[j], keep);
      block_max = max(block_max, s[j]);
    }
    let m_new = max(m, block_max);
    let alpha = exp2(m - m_new);
    m = m_new;
    l *= alpha;
    for (var c = 0u; c < DG; c++) { o[c] *= alpha; }
    for (var j = 0u; j < BKEY; j++) {
      let pj = select(0.0, exp2(s[j] - m), s[j] > MASK_LIMIT);
      l += pj;
      let vr = j * D + part * DG;
      for (var c = 0u; c < DG; c++) { o[c] += pj * vs[vr + c]; }
    }
  }

  if (qi < n_q) {
    let inv = 1.0 / l;
    let o_base = (b * p.nq + qi) * hd + col0;
    for (var c = 0u; c < DG; c++) { out[o_base + c] = T(o[c] * inv); }
  }
}

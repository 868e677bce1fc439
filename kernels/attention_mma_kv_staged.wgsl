// K/V access for attention_mma.wgsl through workgroup memory: all lanes copy each block's K and V
// [BKEY × DP] into the stage (zero-padded past the head dim and the last key), 8 halves per load;
// with PREFETCH the next block is already in registers while the current one is used. Needed when
// the fragments do not divide the head dim (d = 40 with 16×16×16) or for few keys.
// Keys past valid_keys() are staged as zeros, so rows past a GPU count never reach P·V.
// Expects from the prelude: BKEY, KS, PF (vec4 loads per thread per tensor), PREFETCH; from
// attention_mma.wgsl: p, WG, CH, CHP, stage, put8, valid_keys; from the fragment ops:
// stage_right_col/row.

const KV_CHUNKS: u32 = BKEY * CHP;
const V_OFF: u32 = BKEY * KS;

@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;

var<private> next_k: array<vec4<u32>, PF>;
var<private> next_v: array<vec4<u32>, PF>;
var<private> kv_b: u32;
var<private> kv_h: u32;

fn fetch_kv(li: u32, key0: u32) {
  for (var i = 0u; i < PF; i++) {
    let g = li + i * WG;
    let key = key0 + g / CHP;
    let c = g % CHP;
    var kx = vec4<u32>();
    var vx = vec4<u32>();
    if (g < KV_CHUNKS && key < valid_keys() && c < CH) {
      let at = ((kv_b * p.nk + key) * p.heads + kv_h) * CH + c;
      kx = k[at];
      vx = v[at];
    }
    next_k[i] = kx;
    next_v[i] = vx;
  }
}

fn kv_begin(li: u32, b: u32, h: u32, key_end: u32) {
  kv_b = b;
  kv_h = h;
  if (PREFETCH) { fetch_kv(li, 0u); }
}

// Stages the block starting at key0; returns the key of its first column.
fn kv_enter(li: u32, key0: u32, key_end: u32) -> u32 {
  if (!PREFETCH) { fetch_kv(li, key0); }
  // The previous block's fragments have been read.
  workgroupBarrier();
  for (var i = 0u; i < PF; i++) {
    let g = li + i * WG;
    if (g < KV_CHUNKS) {
      let at = (g / CHP) * KS + (g % CHP) * 8u;
      put8(at, next_k[i]);
      put8(V_OFF + at, next_v[i]);
    }
  }
  workgroupBarrier();
  if (PREFETCH && key0 + BKEY < key_end) { fetch_kv(li, key0 + BKEY); }
  return key0;
}

// Kᵀ [FK columns × FN keys] and V [FK keys × FN columns] at (key within the block, column).
fn load_kt(key: u32, col: u32) -> Right { return stage_right_col(key * KS + col); }
fn load_v(key: u32, col: u32) -> Right { return stage_right_row(V_OFF + key * KS + col); }
fn kv_elem(src: u32, at: u32) -> f32 { return 0.0; }

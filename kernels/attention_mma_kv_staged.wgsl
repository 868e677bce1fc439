// K/V access for attention_mma.wgsl through workgroup memory: all lanes copy each block's K and V
// [BKEY × DP] into the stage (zero-padded past the head dim and the last key), 8 halves per load;
// with PREFETCH the next block is already in registers while the current one is used. Needed when
// the fragments do not divide the head dim (d = 40 with 16×16×16) or for few keys.
// RING (with PREFETCH) keeps two K/V buffers: block i+1 is written into the other buffer halfway
// through block i (kv_midblock, after the barrier that retires S), so the barrier that publishes P
// also publishes it and a block costs two workgroup barriers instead of four.
// Keys past valid_keys() are staged as zeros, so rows past a GPU count never reach P·V.
// Expects from the prelude: BKEY, KS, PF (vec4 loads per thread per tensor), PREFETCH, RING; from
// attention_mma.wgsl: p, WG, CH, CHP, stage, put8, valid_keys; from the fragment ops:
// stage_right_col/row.

const KV_CHUNKS: u32 = BKEY * CHP;
const V_OFF: u32 = BKEY * KS;
// Elements between the two ring buffers (each K then V).
const RING_BUF: u32 = 2u * BKEY * KS;

@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;

var<private> next_k: array<vec4<u32>, PF>;
var<private> next_v: array<vec4<u32>, PF>;
var<private> kv_b: u32;
var<private> kv_h: u32;
// The ring buffer that holds the current block (0 without RING).
var<private> kv_at: u32;

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

fn put_kv(li: u32, buffer: u32) {
  for (var i = 0u; i < PF; i++) {
    let g = li + i * WG;
    if (g < KV_CHUNKS) {
      let at = buffer + (g / CHP) * KS + (g % CHP) * 8u;
      put8(at, next_k[i]);
      put8(V_OFF + at, next_v[i]);
    }
  }
}

fn kv_begin(li: u32, b: u32, h: u32, key_end: u32) {
  kv_b = b;
  kv_h = h;
  kv_at = 0u;
  if (PREFETCH) { fetch_kv(li, 0u); }
  if (RING) {
    // The Q fragments have left the stage; block 0 goes in, block 1 starts loading.
    workgroupBarrier();
    put_kv(li, 0u);
    workgroupBarrier();
    if (BKEY < key_end) { fetch_kv(li, BKEY); }
  }
}

// Stages the block starting at key0 (with RING it is already there); returns the key of its first column.
fn kv_enter(li: u32, key0: u32, key_end: u32) -> u32 {
  if (RING) {
    kv_at = ((key0 / BKEY) % 2u) * RING_BUF;
    return key0;
  }
  if (!PREFETCH) { fetch_kv(li, key0); }
  // The previous block's fragments have been read.
  workgroupBarrier();
  put_kv(li, 0u);
  workgroupBarrier();
  if (PREFETCH && key0 + BKEY < key_end) { fetch_kv(li, key0 + BKEY); }
  return key0;
}

// Called between the barrier that retires this block's S and the one that publishes P. With RING:
// the next block goes into the other buffer (last read by the previous block, whose reads all
// came before that barrier), and the one after starts loading.
fn kv_midblock(li: u32, key0: u32, key_end: u32) {
  if (RING && key0 + BKEY < key_end) {
    put_kv(li, RING_BUF - kv_at);
    if (key0 + 2u * BKEY < key_end) { fetch_kv(li, key0 + 2u * BKEY); }
  }
}

// Kᵀ [FK columns × FN keys] and V [FK keys × FN columns] at (key within the block, column).
fn load_kt(key: u32, col: u32) -> Right { return stage_right_col(kv_at + key * KS + col); }
fn load_v(key: u32, col: u32) -> Right { return stage_right_row(kv_at + V_OFF + key * KS + col); }
fn kv_elem(src: u32, at: u32) -> f32 { return 0.0; }

// attention_mma_kv_direct.wgsl for the emulated fragments (attention_mma_emulated.wgsl): the same
// addressing, with right operands as handles that read K and V through kv_elem.
// Expects from attention_mma.wgsl: p, D, BKEY.

@group(0) @binding(2) var<storage, read> k: array<f16>;
@group(0) @binding(3) var<storage, read> v: array<f16>;

var<private> kv_base: u32;
var<private> kv_row: u32;

fn kv_begin(li: u32, b: u32, h: u32, key_end: u32) {
  kv_base = b * p.nk * p.heads * D + h * D;
}

fn kv_enter(li: u32, key0: u32, key_end: u32) -> u32 {
  let start = min(key0, p.nk - BKEY);
  kv_row = kv_base + start * p.heads * D;
  return start;
}

fn kv_midblock(li: u32, key0: u32, key_end: u32) {}

fn load_kt(key: u32, col: u32) -> Right { return Right(2u, kv_row + key * p.heads * D + col, p.heads * D); }
fn load_v(key: u32, col: u32) -> Right { return Right(3u, kv_row + key * p.heads * D + col, p.heads * D); }

fn kv_elem(src: u32, at: u32) -> f32 {
  if (src == 2u) { return f32(k[at]); }
  return f32(v[at]);
}

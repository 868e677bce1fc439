// K/V access for attention_mma.wgsl straight from storage, on hardware fragments: no staging, no
// barriers. Needs the fragments to divide the head dim and at least BKEY keys: the last block is
// shifted back to end at the last key (attention_mma.wgsl masks the keys it repeats), so no
// fragment reaches past the tensor.
// Expects from attention_mma.wgsl: p, D, BKEY.

@group(0) @binding(2) var<storage, read> k: array<f16>;
@group(0) @binding(3) var<storage, read> v: array<f16>;

var<private> kv_base: u32;
var<private> kv_row: u32;

fn kv_begin(li: u32, b: u32, h: u32, key_end: u32) {
  kv_base = b * p.nk * p.heads * D + h * D;
}

// Points at the block starting at key0 (shifted back if it would pass the last key); returns the
// key of its first column.
fn kv_enter(li: u32, key0: u32, key_end: u32) -> u32 {
  let start = min(key0, p.nk - BKEY);
  kv_row = kv_base + start * p.heads * D;
  return start;
}

fn kv_midblock(li: u32, key0: u32, key_end: u32) {}

fn load_kt(key: u32, col: u32) -> Right {
  let stride = p.heads * D;
  return subgroupMatrixLoad<Right, col_major>(&k, kv_row + key * stride + col, stride);
}

fn load_v(key: u32, col: u32) -> Right {
  let stride = p.heads * D;
  return subgroupMatrixLoad<Right, row_major>(&v, kv_row + key * stride + col, stride);
}

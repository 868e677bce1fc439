// Token + position embedding: out[r, c] = table[ids[r], c] + positions[r % SEQ, c].
// Summed in f32 and rounded once to T, as PyTorch's half-precision add does.

struct Params {
  rows: u32,
  channels: u32,
  seq_len: u32,
  vocab: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<T>;
@group(0) @binding(2) var<storage, read> positions: array<T>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let r = gid.y;
  if (c >= p.channels || r >= p.rows) { return; }
  let id = min(ids[r], p.vocab - 1u);
  let pos = r % p.seq_len;
  out[r * p.channels + c] = T(f32(table[id * p.channels + c]) + f32(positions[pos * p.channels + c]));
}

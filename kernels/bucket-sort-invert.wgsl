// The inverse of a permutation per batch row: out[b, perm[b, i]] = i (each item's position from
// the items in order, or the items in order from their positions).

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> perm: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = wid.x * 256u + li;
  if (i >= p.n) { return; }
  out[wid.y * p.n + perm[wid.y * p.n + i]] = i;
}

// The three 11-bit radix digits of every key for a descending sort, in one pass: keys are mapped to
// u32s that ascend as the floats descend (−0 taken as +0, so equal values tie and keep index
// order), then cut into bits 0–10, 11–21 and 22–31. Also writes the identity sequence the first
// radix pass starts from.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> keys: array<f32>;
@group(0) @binding(2) var<storage, read_write> digit0: array<u32>;
@group(0) @binding(3) var<storage, read_write> digit1: array<u32>;
@group(0) @binding(4) var<storage, read_write> digit2: array<u32>;
@group(0) @binding(5) var<storage, read_write> identity: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = wid.x * 256u + li;
  if (i >= p.n) { return; }
  let at = wid.y * p.n + i;
  let raw = bitcast<u32>(keys[at]);
  let bits = select(raw, 0u, raw == 0x80000000u);
  // ascending order of floats as u32: flip every bit of negatives, only the sign of positives
  let ascending = select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
  let key = ~ascending;
  digit0[at] = key & 2047u;
  digit1[at] = (key >> 11u) & 2047u;
  digit2[at] = key >> 22u;
  identity[at] = i;
}

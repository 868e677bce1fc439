// Sort keys for drawing destinations at random from each image's pool of important tokens: a
// token whose importance rank is below `pool` gets a uniform key in [0, 1) from a counter-based
// hash of (seed, image, token); every other token gets −1. Ranking these keys in descending order
// puts the pool first in a random order (ties by index) and the rest after it in token order, so
// the first n_dst ranks are a uniform draw of n_dst distinct pool tokens — no host data per call.

struct Params {
  tokens: u32, // N per image
  total: u32,  // images · N
  pool: u32,   // tokens in the pool per image
  seed: u32,
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> importance_rank: array<u32>; // [images, N]
@group(0) @binding(2) var<storage, read_write> keys: array<f32>;      // [images, N]

// PCG output permutation (O'Neill): a well-mixed 32-bit hash
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.y * p.row_width + gid.x;
  if (e >= p.total) { return; }
  let image = e / p.tokens;
  let token = e % p.tokens;
  let h = pcg(token ^ pcg(image ^ pcg(p.seed)));
  // 24 bits: exact in f32, so distinct hashes stay distinct keys
  let u = f32(h >> 8u) * (1.0 / 16777216.0);
  keys[e] = select(-1.0, u, importance_rank[e] < p.pool);
}

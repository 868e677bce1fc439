// Unmerge: every token of the full grid takes its value from the merged sequence,
// out[b, t, c] = y[b, pos[b, t], c] (tomesd's unmerge: destinations and unmerged sources back in
// place, merged sources copy their destination). One invocation per output value.
// Expects from the prelude: T.

struct Params {
  total: u32,     // B · N · C
  tokens: u32,    // N
  channels: u32,
  merged: u32,    // tokens per batch row of y
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<T>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.y * p.row_width + gid.x;
  if (e >= p.total) { return; }
  let c = e % p.channels;
  let bt = e / p.channels;
  let b = bt / p.tokens;
  out[e] = y[(b * p.merged + pos[bt]) * p.channels + c];
}

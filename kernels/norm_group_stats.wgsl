// Group norm, pass 1: statistics of one chunk of one (batch, group). A group's elements are
// contiguous ([B, C, S] with C split into G groups), so a chunk is a range of vectors. Values are
// shifted by the mean of the group's first vector, so an offset like 100 + noise costs no
// precision; each invocation folds its vectors (two-pass within a vector) into running
// (count, mean, M2) with Chan et al.'s update, and one team reduction merges the invocations.
// Expects from the prelude: T, VS/VF, hsum, W, WG, TEAM (= WG), team_moments / team_combine.

struct Params {
  group_vecs: u32, // vectors per (batch, group)
  chunk_vecs: u32, // vectors per chunk
  chunks: u32,     // chunks per group
  total: u32,      // chunks over all groups
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
// per chunk: (count, shift, mean − shift, M2); the shift is the same for every chunk of a group
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let chunk_id = wid.y * nwg.x + wid.x;
  if (chunk_id >= p.total) { return; }
  let at = (chunk_id / p.chunks) * p.group_vecs;
  let start = (chunk_id % p.chunks) * p.chunk_vecs;
  let end = min(start + p.chunk_vecs, p.group_vecs);
  let shift = hsum(VF(x[at])) / f32(W);

  var m = vec4f(0.0); // (count, mean, M2, 0) of x − shift over this invocation's vectors
  for (var j = start + li; j < end; j += WG) {
    let v = VF(x[at + j]) - VF(shift);
    let vm = hsum(v) / f32(W);
    let d = v - VF(vm);
    m = team_combine(m, vec4f(f32(W), vm, hsum(d * d), 0.0), TEAM_MOMENTS);
  }
  let g = team_moments(m.xyz, li);
  if (li == 0u) { stats[chunk_id] = vec4f(g.x, shift, g.y, g.z); }
}

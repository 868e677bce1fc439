// Group norm, pass 2: merges the chunk statistics of this chunk's group (every invocation merges
// them in the same order, so all agree; means are relative to the group's shift, see pass 1),
// then y = ((x − shift) − mean)·rstd·gamma[c] + beta[c], optionally SiLU. With W = 4 the spatial
// size divides by 4, so the lanes of a vector share one channel.
// Expects from the prelude: T, VS/VF, TP (gamma/beta type), WG, SILU.

struct Params {
  group_vecs: u32,
  chunk_vecs: u32,
  chunks: u32,
  total: u32,
  spatial_vecs: u32,       // S / W
  channels_per_group: u32,
  groups: u32,             // G
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
@group(0) @binding(2) var<storage, read> gamma: array<TP>;
@group(0) @binding(3) var<storage, read> beta: array<TP>;
@group(0) @binding(4) var<storage, read> stats: array<vec4<f32>>; // (count, shift, mean − shift, M2)
@group(0) @binding(5) var<storage, read_write> out: array<VS>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let chunk_id = wid.y * nwg.x + wid.x;
  if (chunk_id >= p.total) { return; }
  let group = chunk_id / p.chunks;

  let shift = stats[group * p.chunks].y;
  var count = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var q = 0u; q < p.chunks; q++) {
    let s = stats[group * p.chunks + q];
    let total = count + s.x;
    let delta = ((s.y - shift) + s.z) - mean;
    mean += delta * (s.x / total);
    m2 += s.w + delta * delta * (count * s.x / total);
    count = total;
  }
  let rstd = inverseSqrt(m2 / count + p.eps);

  let at = group * p.group_vecs;
  let first_channel = (group % p.groups) * p.channels_per_group;
  let start = (chunk_id % p.chunks) * p.chunk_vecs;
  let end = min(start + p.chunk_vecs, p.group_vecs);
  for (var j = start + li; j < end; j += WG) {
    let c = first_channel + j / p.spatial_vecs;
    var y = ((VF(x[at + j]) - VF(shift)) - VF(mean)) * (f32(gamma[c]) * rstd) + VF(f32(beta[c]));
    if (SILU) { y = y / (1.0 + exp(-y)); }
    out[at + j] = VS(y);
  }
}

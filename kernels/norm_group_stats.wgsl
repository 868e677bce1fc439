// Group norm, pass 1: statistics of one chunk of one (batch, group). A group's elements are
// contiguous ([B, C, S] with C split into G groups), so a chunk is a range of vectors, taken in
// rounds of WG·ITEMS vectors held in registers. Each round is a corrected two-pass: mean m₁, then
// d = x − m₁ gives the residual mean Σd/n and M2 = Σd² − (Σd)²/n. Rounds merge with Chan et al.'s
// update in coordinates shifted by the first round's m₁, so values like 100 + noise keep their
// precision: the chunk mean is written as an (f32 base, small offset) pair.
// Expects from the prelude: T, VS/VF, hsum, W, WG, TEAM (= WG), ITEMS, team_sum, team_sum2.

struct Params {
  group_vecs: u32, // vectors per (batch, group)
  chunk_vecs: u32, // vectors per chunk (a multiple of WG·ITEMS)
  chunks: u32,     // chunks per group
  total: u32,      // chunks over all groups
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<VS>;
// per chunk: (count, base, mean − base, M2)
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<f32>>;

const ROUND: u32 = WG * ITEMS;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let chunk_id = wid.y * nwg.x + wid.x;
  if (chunk_id >= p.total) { return; }
  let group = chunk_id / p.chunks;
  let at = group * p.group_vecs;
  let start = (chunk_id % p.chunks) * p.chunk_vecs;
  let end = min(start + p.chunk_vecs, p.group_vecs);

  // running statistics of the chunk, identical in every invocation; mean is relative to base
  var base = 0.0;
  var count = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var r0 = start; r0 < end; r0 += ROUND) {
    var cache: array<VF, ITEMS>;
    var s = 0.0;
    for (var k = 0u; k < ITEMS; k++) {
      let j = r0 + li + k * WG;
      if (j < end) {
        cache[k] = VF(x[at + j]);
        s += hsum(cache[k]);
      }
    }
    let n = f32(min(end - r0, ROUND) * W);
    let m1 = team_sum(s, li) / n;
    var d = vec2f(0.0);
    for (var k = 0u; k < ITEMS; k++) {
      if (r0 + li + k * WG < end) {
        let dv = cache[k] - VF(m1);
        d += vec2f(hsum(dv), hsum(dv * dv));
      }
    }
    let sums = team_sum2(d, li);
    let residual = sums.x / n;
    let round_m2 = max(sums.y - sums.x * residual, 0.0);
    if (r0 == start) { base = m1; }
    let round_mean = (m1 - base) + residual;
    let total = count + n;
    let delta = round_mean - mean;
    mean += delta * (n / total);
    m2 += round_m2 + delta * delta * (count * n / total);
    count = total;
  }
  if (li == 0u) { stats[chunk_id] = vec4f(count, base, mean, m2); }
}

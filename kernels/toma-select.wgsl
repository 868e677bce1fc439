// ToMA destination selection: greedy facility location inside each tile, one workgroup per
// (tile, batch). From the tile's cosine-similarity matrix S (rows of the padded [NMAX, NMAX] block):
// the first pick is the token with the largest row sum Σ_j S[i, j]; every further pick is the
// not-yet-picked token with the largest gain Σ_j max(0, S[i, j] − best_j), after which
// best_j = max(best_j, S[pick, j]). Sums run in f32 over j in ascending order; ties go to the
// lowest local index. Picks already made are excluded (the reference leaves them in the argmax,
// which only matters for exact duplicate tokens, where it would pick a token twice).
// dst[b, dst_offset(t) + k] = grid token index of the tile's k-th pick.
// Expects from the prelude: WG (threads, a power of two), CAP (≥ NMAX), the toma-layout helpers.

struct Params {
  grid: TileGrid,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sim: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

var<workgroup> best: array<f32, CAP>;
var<workgroup> taken: array<u32, CAP>;
var<workgroup> top_gain: array<f32, WG>;
var<workgroup> top_index: array<u32, WG>;

const NONE: u32 = 0xffffffffu;
const LOWEST: f32 = -3.4e38; // below any row sum of cosine similarities

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = p.grid;
  let t = wid.x;
  let b = wid.y;
  let tile = grid_tile(g, t);
  let n = tile.n;
  let base = (b * grid_tiles(g) + t) * g.nmax * g.nmax;
  for (var j = lid; j < n; j += WG) {
    taken[j] = 0u;
    best[j] = 0.0;
  }
  workgroupBarrier();
  for (var k = 0u; k < tile.dst_count; k++) {
    var gain_max = LOWEST;
    var arg = NONE;
    // each thread scans its candidates in ascending order, so a strict > keeps the lowest index
    for (var i = lid; i < n; i += WG) {
      if (taken[i] != 0u) { continue; }
      let row = base + i * g.nmax;
      var gain = 0.0;
      if (k == 0u) {
        for (var j = 0u; j < n; j++) { gain += sim[row + j]; }
      } else {
        for (var j = 0u; j < n; j++) { gain += max(sim[row + j] - best[j], 0.0); }
      }
      if (gain > gain_max) {
        gain_max = gain;
        arg = i;
      }
    }
    top_gain[lid] = gain_max;
    top_index[lid] = arg;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) {
        let og = top_gain[lid + s];
        let oi = top_index[lid + s];
        if (og > top_gain[lid] || (og == top_gain[lid] && oi < top_index[lid])) {
          top_gain[lid] = og;
          top_index[lid] = oi;
        }
      }
      workgroupBarrier();
    }
    let v = top_index[0];
    let row = base + v * g.nmax;
    for (var j = lid; j < n; j += WG) {
      let s = sim[row + j];
      best[j] = select(max(best[j], s), s, k == 0u);
    }
    if (lid == 0u) {
      taken[v] = 1u;
      dst[b * g.dsts + tile.dst_offset + k] = tile_token(g, tile, v);
    }
    workgroupBarrier();
  }
}

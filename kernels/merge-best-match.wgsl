// Bipartite matching step of token merging: for every source token i of a src/dst split, its most
// similar destination by cosine similarity,
//   best_sim[b, i] = max_j <x̂[src_i], x̂[dst_j]>,  best_dst[b, i] = the smallest j reaching it,
// with x̂ = x / ‖x‖ (tomesd divides the metric by its norm, then multiplies). The [n_src, n_dst]
// score matrix is never stored: a workgroup owns 64 sources and sweeps the destinations in tiles
// of 64, keeping a running best. Channels are staged 16 at a time through workgroup memory; each
// invocation accumulates a 4×4 block (sources ty + 16·i, destinations tx + 16·j).
// Expects from the prelude: T.

struct Params {
  tokens: u32,     // N: tokens per batch row of x
  channels: u32,   // C
  n_src: u32,
  n_dst: u32,
  src_stride: u32, // n_src when every batch row has its own split, 0 when one split serves all
  dst_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> norms: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<u32>;
@group(0) @binding(4) var<storage, read> dst: array<u32>;
@group(0) @binding(5) var<storage, read_write> best_sim: array<f32>;
@group(0) @binding(6) var<storage, read_write> best_dst: array<u32>;

const TILE: u32 = 64u;  // sources per workgroup, destinations per sweep step
const KC: u32 = 16u;    // channels per staging step
const LOWEST: f32 = -3.4028234e38;

var<workgroup> a_tile: array<f32, 1024>; // [KC][TILE] normalised source values
var<workgroup> b_tile: array<f32, 1024>; // [KC][TILE] normalised destination values
var<workgroup> red_val: array<f32, 1024>; // [TILE][16] per-invocation bests, reduced at the end
var<workgroup> red_idx: array<u32, 1024>;

// x̂[token, channel] of batch row b, 0 outside the matrix (so padded lanes add nothing)
fn normalised(b: u32, token: u32, channel: u32) -> f32 {
  let row = b * p.tokens + token;
  let n = norms[row];
  // a zero token has no direction: similarity 0 instead of torch's NaN
  return select(f32(x[row * p.channels + channel]) / n, 0.0, n == 0.0);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let b = wid.y;
  let s0 = wid.x * TILE;
  let tx = li % 16u;
  let ty = li / 16u;
  var best: array<f32, 4>;
  var best_j: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    best[i] = LOWEST;
    best_j[i] = 0u;
  }

  for (var d0 = 0u; d0 < p.n_dst; d0 += TILE) {
    // explicitly zeroed: a bare declaration inside the loop kept the previous sweep's sums on lavapipe
    var acc = array<f32, 16>();
    for (var k0 = 0u; k0 < p.channels; k0 += KC) {
      // 1024 values per tile, 4 per invocation; 16 neighbouring invocations read one token's channels
      for (var q = 0u; q < 4u; q++) {
        let e = li + 256u * q;
        let r = e / KC;
        let k = e % KC;
        let c = k0 + k;
        var va = 0.0;
        let si = s0 + r;
        if (si < p.n_src && c < p.channels) { va = normalised(b, src[b * p.src_stride + si], c); }
        a_tile[k * TILE + r] = va;
        var vb = 0.0;
        let dj = d0 + r;
        if (dj < p.n_dst && c < p.channels) { vb = normalised(b, dst[b * p.dst_stride + dj], c); }
        b_tile[k * TILE + r] = vb;
      }
      workgroupBarrier();
      for (var k = 0u; k < KC; k++) {
        var av: array<f32, 4>;
        var bv: array<f32, 4>;
        for (var i = 0u; i < 4u; i++) {
          av[i] = a_tile[k * TILE + ty + 16u * i];
          bv[i] = b_tile[k * TILE + tx + 16u * i];
        }
        for (var i = 0u; i < 4u; i++) {
          for (var j = 0u; j < 4u; j++) {
            acc[i * 4u + j] += av[i] * bv[j];
          }
        }
      }
      workgroupBarrier();
    }
    // destinations in increasing order, strict > : the first maximum wins, like torch.max
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        let d = d0 + tx + 16u * j;
        let v = acc[i * 4u + j];
        if (d < p.n_dst && v > best[i]) {
          best[i] = v;
          best_j[i] = d;
        }
      }
    }
  }

  for (var i = 0u; i < 4u; i++) {
    let at = (ty + 16u * i) * 16u + tx;
    red_val[at] = best[i];
    red_idx[at] = best_j[i];
  }
  workgroupBarrier();
  if (li < TILE) {
    var v = red_val[li * 16u];
    var j = red_idx[li * 16u];
    for (var t = 1u; t < 16u; t++) {
      let cv = red_val[li * 16u + t];
      let cj = red_idx[li * 16u + t];
      if (cv > v || (cv == v && cj < j)) {
        v = cv;
        j = cj;
      }
    }
    let si = s0 + li;
    if (si < p.n_src) {
      best_sim[b * p.n_src + si] = v;
      best_dst[b * p.n_src + si] = j;
    }
  }
}

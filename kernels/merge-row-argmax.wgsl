// Each row's largest score and its column, the first on ties (torch.max): the reduction after a
// similarity matrix product. scores [B, rows, cols] → best[b, first + row], best_col[b, first + row]
// (outputs have `total` rows per batch row, so row blocks of one matching fill them piecewise).
// One workgroup per row: strided sweep, then a tree reduction.
// Expects from the prelude: T.

struct Params {
  rows: u32,
  cols: u32,
  first: u32,
  total: u32,
  row_width: u32, // workgroups per row of the 2-D grid
  batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<T>;
@group(0) @binding(2) var<storage, read_write> best: array<f32>;
@group(0) @binding(3) var<storage, read_write> best_col: array<u32>;

const WG: u32 = 128u;
const LOWEST: f32 = -3.4028234e38;

var<workgroup> red_val: array<f32, WG>;
var<workgroup> red_idx: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = wid.y * p.row_width + wid.x;
  // uniform per workgroup, so the barriers below stay uniform
  if (r >= p.batch * p.rows) { return; }
  let base = r * p.cols;
  var v = LOWEST;
  var j = 0u;
  for (var c = li; c < p.cols; c += WG) {
    let s = f32(scores[base + c]);
    // columns rise within a thread, so strict > keeps the first maximum
    if (s > v) {
      v = s;
      j = c;
    }
  }
  red_val[li] = v;
  red_idx[li] = j;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) {
      let ov = red_val[li + stride];
      let oj = red_idx[li + stride];
      if (ov > red_val[li] || (ov == red_val[li] && oj < red_idx[li])) {
        red_val[li] = ov;
        red_idx[li] = oj;
      }
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    let b = r / p.rows;
    let at = b * p.total + p.first + r % p.rows;
    best[at] = red_val[0];
    best_col[at] = red_idx[0];
  }
}

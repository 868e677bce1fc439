// One decoded tile of a tiled VAE decode, blended into its neighbours as diffusers' tiled_decode
// does (blend_v with the tile above, then blend_h with the tile to the left, both already
// final), then written out: its kept corner into the image, and its last rows / columns into the
// strips the tiles below / to the right blend with. All tensors are [planes, rows, cols].
// Expects from the prelude: T.

struct Params {
  n: u32,         // tile elements: planes·th·tw
  th: u32,
  tw: u32,
  ev: u32,        // rows blended with the tile above (0: none)
  above_rows: u32,
  eh: u32,        // columns blended with the tile to the left (0: none)
  left_cols: u32,
  keep_h: u32,    // the tile's [0, keep_h) × [0, keep_w) corner goes to the image
  keep_w: u32,
  out_h: u32,
  out_w: u32,
  out_top: u32,
  out_left: u32,
  bottom_rows: u32, // the last bottom_rows rows are saved for the tile below (0: none)
  right_cols: u32,  // the last right_cols columns are saved for the tile to the right (0: none)
  row_width: u32,   // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tile: array<T>;
@group(0) @binding(2) var<storage, read> above_strip: array<T>;  // [planes, above_rows, tw]: the tile above's last rows
@group(0) @binding(3) var<storage, read> left_strip: array<T>;   // [planes, th, left_cols]: the left tile's last columns
@group(0) @binding(4) var<storage, read_write> image: array<T>;
@group(0) @binding(5) var<storage, read_write> bottom_strip: array<T>; // [planes, bottom_rows, tw]
@group(0) @binding(6) var<storage, read_write> right_strip: array<T>;  // [planes, th, right_cols]

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let x = i % p.tw;
  let line = i / p.tw;
  let y = line % p.th;
  let plane = line / p.th;
  var v = f32(tile[i]);
  // b[y] = a[-e + y]·(1 − y/e) + b[y]·(y/e), with a the neighbour's last e rows (columns)
  if (y < p.ev) {
    let t = f32(y) / f32(p.ev);
    let a = f32(above_strip[(plane * p.above_rows + p.above_rows - p.ev + y) * p.tw + x]);
    v = a * (1.0 - t) + v * t;
  }
  if (x < p.eh) {
    let t = f32(x) / f32(p.eh);
    let a = f32(left_strip[(plane * p.th + y) * p.left_cols + p.left_cols - p.eh + x]);
    v = a * (1.0 - t) + v * t;
  }
  let r = T(v);
  if (y < p.keep_h && x < p.keep_w) {
    image[(plane * p.out_h + p.out_top + y) * p.out_w + p.out_left + x] = r;
  }
  if (y + p.bottom_rows >= p.th) {
    bottom_strip[(plane * p.bottom_rows + y + p.bottom_rows - p.th) * p.tw + x] = r;
  }
  if (x + p.right_cols >= p.tw) {
    right_strip[(plane * p.th + y) * p.right_cols + x + p.right_cols - p.tw] = r;
  }
}

// The im2col matrix of an NCHW image batch, per image [Cin·KH·KW, Ho·Wo]: row k = (ci, ky, kx),
// column = output pixel, zero where the kernel tap falls in the padding. Consecutive invocations
// write consecutive pixels of one row, so the writes coalesce and the reads walk input rows.
// Expects from the prelude: T, KH, KW.

struct Params {
  k: u32,         // Cin·KH·KW
  pixels: u32,    // Ho·Wo
  wo: u32,
  h: u32,
  w: u32,
  stride: u32,
  pad_top: u32,
  pad_left: u32,
  cin: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

// Grid (pixels / 256, K, images): the row and image come from the workgroup id, so the only
// division by a run-time value is the pixel's row (divisions cost tens of instructions here).
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let pixel = wid.x * 256u + li;
  if (pixel >= p.pixels) { return; }
  let k = wid.y;
  let image = wid.z;
  let ci = k / (KH * KW);
  let tap = k % (KH * KW);
  let oy = pixel / p.wo;
  let ox = pixel - oy * p.wo;
  // Negative coordinates wrap to huge unsigned values, so one compare per axis tests both ends.
  let iy = oy * p.stride + tap / KW - p.pad_top;
  let ix = ox * p.stride + tap % KW - p.pad_left;
  var v = T(0.0);
  if (iy < p.h && ix < p.w) {
    v = src[((image * p.cin + ci) * p.h + iy) * p.w + ix];
  }
  out[(image * p.k + k) * p.pixels + pixel] = v;
}

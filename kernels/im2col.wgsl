// The im2col matrix of an NCHW image batch, per image [Cin·KH·KW, Ho·Wo]: row k = (ci, ky, kx),
// column = output pixel, zero where the kernel tap falls in the padding. Each invocation writes
// PER consecutive pixels of one row (4 where Ho·Wo is a multiple of 4, as one 8- or 16-byte
// store; 8 f16 as one 16-byte store), so the writes coalesce and the reads walk input rows.
// Followed by im2col-store{1,4,8}.wgsl (the output binding and store_pixels).
// Expects from the prelude: T, KH, KW, PER.

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

// Grid (pixels / (256·PER), K, images): the row and image come from the workgroup id, so the only
// division by a run-time value is the first pixel's row (divisions cost tens of instructions here).
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let first = (wid.x * 256u + li) * PER;
  if (first >= p.pixels) { return; }
  let k = wid.y;
  let image = wid.z;
  let ci = k / (KH * KW);
  let tap = k % (KH * KW);
  let plane = (image * p.cin + ci) * p.h;
  var oy = first / p.wo;
  var ox = first - oy * p.wo;
  var v: array<T, PER>;
  for (var j = 0u; j < PER; j++) {
    // Negative coordinates wrap to huge unsigned values, so one compare per axis tests both ends.
    let iy = oy * p.stride + tap / KW - p.pad_top;
    let ix = ox * p.stride + tap % KW - p.pad_left;
    v[j] = T(0.0);
    if (iy < p.h && ix < p.w) {
      v[j] = src[(plane + iy) * p.w + ix];
    }
    // A packet may run past the end of an output row (Ho·Wo, not Wo, is the multiple of 4).
    ox += 1u;
    if (ox == p.wo) {
      ox = 0u;
      oy += 1u;
    }
  }
  store_pixels((image * p.k + k) * p.pixels + first, v);
}

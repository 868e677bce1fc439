// Token importance from classifier-free guidance (Wu et al., importance-based token merging): the
// guidance magnitude at every latent position,
//   importance[i, y, x] = ‖ε[images + i, :, y, x] − ε[i, :, y, x]‖₂     (over the channels, in f32)
// from a noise prediction ε [2·images, C, H, W] whose rows are [uncond…, cond…]. One invocation
// per (image, position).
// Expects from the prelude: T.

struct Params {
  total: u32,     // images · H · W
  channels: u32,  // C
  pixels: u32,    // H · W
  images: u32,
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> eps: array<T>;
@group(0) @binding(2) var<storage, read_write> importance: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.y * p.row_width + gid.x;
  if (e >= p.total) { return; }
  let image = e / p.pixels;
  let at = e % p.pixels;
  let uncond = image * p.channels * p.pixels + at;
  let cond = (p.images + image) * p.channels * p.pixels + at;
  var s = 0.0;
  for (var c = 0u; c < p.channels; c++) {
    let d = f32(eps[cond + c * p.pixels]) - f32(eps[uncond + c * p.pixels]);
    s += d * d;
  }
  importance[e] = sqrt(s);
}

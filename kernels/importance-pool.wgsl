// The latent-resolution importance map averaged onto a block's token grid: output token (y, x)
// is the mean over the factor × factor latent cell [y·f, y·f + f) × [x·f, x·f + f), clipped at
// the bottom and right edges (the U-Net's stride-2 convolutions round odd sizes up, so the last
// cell of an odd side is partial). Rows first, then columns, summed in f32. One invocation per
// output token; the output is [images, h · w], one row per image, ready to be ranked.

struct Params {
  total: u32,   // images · h · w
  in_w: u32,
  in_h: u32,
  out_w: u32,
  out_h: u32,
  factor: u32,
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> full: array<f32>; // [images, H, W]
@group(0) @binding(2) var<storage, read_write> pooled: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.y * p.row_width + gid.x;
  if (e >= p.total) { return; }
  let tokens = p.out_w * p.out_h;
  let image = e / tokens;
  let ox = e % p.out_w;
  let oy = (e % tokens) / p.out_w;
  let y0 = oy * p.factor;
  let y1 = min(y0 + p.factor, p.in_h);
  let x0 = ox * p.factor;
  let x1 = min(x0 + p.factor, p.in_w);
  let base = image * p.in_w * p.in_h;
  var s = 0.0;
  for (var y = y0; y < y1; y++) {
    for (var x = x0; x < x1; x++) {
      s += full[base + y * p.in_w + x];
    }
  }
  pooled[e] = s / f32((y1 - y0) * (x1 - x0));
}

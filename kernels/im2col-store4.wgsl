// im2col.wgsl's output four pixels per store (Ho·Wo a multiple of 4, so `at` is too).

@group(0) @binding(2) var<storage, read_write> out: array<vec4<T>>;

fn store_pixels(at: u32, v: array<T, 4>) {
  out[at / 4u] = vec4<T>(v[0], v[1], v[2], v[3]);
}

// im2col.wgsl's output eight f16 pixels per 16-byte store (Ho·Wo a multiple of 8, so `at` is too).

@group(0) @binding(2) var<storage, read_write> out: array<vec4<u32>>;

fn store_pixels(at: u32, v: array<T, 8>) {
  out[at / 8u] = vec4<u32>(
    bitcast<u32>(vec2<T>(v[0], v[1])),
    bitcast<u32>(vec2<T>(v[2], v[3])),
    bitcast<u32>(vec2<T>(v[4], v[5])),
    bitcast<u32>(vec2<T>(v[6], v[7])),
  );
}

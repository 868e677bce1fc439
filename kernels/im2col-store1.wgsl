// im2col.wgsl's output one element at a time (any Ho·Wo).

@group(0) @binding(2) var<storage, read_write> out: array<T>;

fn store_pixels(at: u32, v: array<T, 1>) {
  out[at] = v[0];
}

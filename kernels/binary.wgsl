// out[i] = op(a[i], b[(i / B_STRIDE) % B_COUNT]): b broadcasts by repeating each of its values
// B_STRIDE times and the whole of it as often as needed (bias over rows, per-channel over pixels).
// Expects from the prelude: T (storage type), OP (0 add, 1 mul, 2 sub).

struct Params {
  n: u32,
  b_stride: u32,
  b_count: u32,
  row_width: u32, // threads per row of the 2-D grid (large tensors exceed 65535 workgroups in x)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let x = f32(a[i]);
  let y = f32(b[(i / p.b_stride) % p.b_count]);
  var r: f32;
  switch OP {
    case 0u: { r = x + y; }
    case 1u: { r = x * y; }
    default: { r = x - y; }
  }
  out[i] = T(r);
}

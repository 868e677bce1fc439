// Converts a chunk of raw little-endian floats, as checkpoints store them (F32, F16 or BF16), into
// an f32 or f16 tensor starting at an element offset. All arithmetic is on u32 bit patterns: WGSL
// leaves the rounding of f32→f16 to the implementation and may flush f16 subnormals, while weights
// must load bit-exactly (round to nearest even, as PyTorch and runtime/half.ts do). So neither side
// needs shader-f16.
// Expects from the prelude: SRC (0 F32, 1 F16, 2 BF16), DST_F16 (bool).
//
// Each thread converts 8 consecutive elements with vec4 loads and stores: elements 0,2,4,6 of the
// octet ("even") and 1,3,5,7 ("odd") travel as two vec4s, which is how 16-bit data pairs up in u32
// words. The chunk's dst offset is a multiple of 8 elements, so only the chunk that ends dst can
// stop inside an octet; its missing elements are written as zeros into dst's padding, never past
// the binding (the caller binds dst rounded up to 16 bytes).

struct Params {
  count: u32,      // elements in this chunk
  dst_offset: u32, // element offset of the chunk in dst, a multiple of 8
  row_width: u32,  // threads per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4u>;

const ZERO = vec4u(0u);

// Both conversions are branch-free (every case computed, one selected): lavapipe runs invocations
// as SIMD lanes, where divergent branches cost the sum of their sides.

fn f16_to_f32_bits(h: vec4u) -> vec4u {
  let sign = (h & vec4u(0x8000u)) << vec4u(16u);
  let e = (h >> vec4u(10u)) & vec4u(0x1fu);
  let m = h & vec4u(0x3ffu);
  let normal = ((e + 112u) << vec4u(23u)) | (m << vec4u(13u));
  let special = vec4u(0x7f800000u) | (m << vec4u(13u));
  // Subnormal m·2^-24: normalise around its leading bit (garbage for m = 0, which selects zero).
  let lead = firstLeadingBit(m);
  let mantissa = (m << ((vec4u(23u) - lead) & vec4u(31u))) & vec4u(0x7fffffu);
  let subnormal = select(((lead + 103u) << vec4u(23u)) | mantissa, ZERO, m == ZERO);
  return sign | select(select(normal, special, e == vec4u(31u)), subnormal, e == ZERO);
}

// Round to nearest even: add just under half an output ulp plus the output's lowest bit, then
// truncate; a carry out of the mantissa correctly bumps the exponent (up to infinity).
fn f32_to_f16_bits(x: vec4u) -> vec4u {
  let sign = (x >> vec4u(16u)) & vec4u(0x8000u);
  let a = x & vec4u(0x7fffffffu);
  let normal = (a - vec4u(112u << 23u) + vec4u(0xfffu) + ((a >> vec4u(13u)) & vec4u(1u))) >> vec4u(13u);
  // Below 2^-14 the f16 is subnormal: shift the full mantissa right by 14 or more (all of it
  // away below 2^-25, where the value rounds to zero).
  let shift = min(vec4u(126u) - min(a >> vec4u(23u), vec4u(126u)), vec4u(31u));
  let full = (a & vec4u(0x7fffffu)) | vec4u(0x800000u);
  let half_ulp = vec4u(1u) << (shift - 1u);
  let subnormal = (full + half_ulp - 1u + ((full >> shift) & vec4u(1u))) >> shift;
  let special = select(vec4u(0x7c00u), vec4u(0x7e00u), a > vec4u(0x7f800000u));
  return sign | select(select(subnormal, normal, a >= vec4u(0x38800000u)), special, a >= vec4u(0x47800000u));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let octet = gid.y * p.row_width + gid.x;
  let first = octet * 8u;
  if (first >= p.count) { return; }
  let even_ok = vec4u(first) + vec4u(0u, 2u, 4u, 6u) < vec4u(p.count);
  let odd_ok = vec4u(first) + vec4u(1u, 3u, 5u, 7u) < vec4u(p.count);

  if (SRC == 1u && DST_F16) {
    let w = src[octet];
    let lo = select(ZERO, w & vec4u(0xffffu), even_ok);
    let hi = select(ZERO, w & vec4u(0xffff0000u), odd_ok);
    dst[p.dst_offset / 8u + octet] = lo | hi;
    return;
  }

  // f32 bit patterns of the even and odd elements.
  var even: vec4u;
  var odd: vec4u;
  if (SRC == 0u) {
    let a = src[2u * octet];
    var b = ZERO;
    if (first + 4u < p.count) { b = src[2u * octet + 1u]; }
    even = vec4u(a.x, a.z, b.x, b.z);
    odd = vec4u(a.y, a.w, b.y, b.w);
  } else {
    let w = src[octet];
    if (SRC == 1u) {
      even = f16_to_f32_bits(w & vec4u(0xffffu));
      odd = f16_to_f32_bits(w >> vec4u(16u));
    } else {
      even = w << vec4u(16u);
      odd = w & vec4u(0xffff0000u);
    }
  }
  even = select(ZERO, even, even_ok);
  odd = select(ZERO, odd, odd_ok);

  if (DST_F16) {
    dst[p.dst_offset / 8u + octet] = f32_to_f16_bits(even) | (f32_to_f16_bits(odd) << vec4u(16u));
  } else {
    let at = p.dst_offset / 4u + 2u * octet;
    dst[at] = vec4u(even.x, odd.x, even.y, odd.y);
    if (first + 4u < p.count) { dst[at + 1u] = vec4u(even.z, odd.z, even.w, odd.w); }
  }
}

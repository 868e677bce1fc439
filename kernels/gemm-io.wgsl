// The operand side of every GEMM kernel: bindings, the A and B tile loaders and the fused
// epilogue. A GEMM core (gemm-tiled.wgsl, gemm-tc.wgsl) is appended to this file and only calls
// a_load4 / b_cols / b_load4 / store4, so one core serves matmul, linear and conv2d.
//
// C[m, n] = sum_k A[m, k] * B[k, n], A row-major [M, K] (also conv weights [Cout, Cin*KH*KW]).
// B comes in three layouts (MODE):
//   MODE_KN   B is [K, N] row-major (matmul)
//   MODE_NK   B is [N, K] row-major (linear weights, matmul with transposeB)
//   MODE_CONV B is the im2col view of an NCHW image, gathered on the fly; n = (image, output pixel)
// Expects from the prelude: T, MODE, KH, KW, UNROLL, A_VEC, B_VEC, OUT_VEC. Epilogue options and
// the conv stride are uniforms, so one pipeline per (dtype, layout, kernel size, alignment, tile
// variant) serves every layer.
//
// Operands are bound as arrays of vec4<T> (bindings rounded up to 16 bytes) so aligned rows load
// four elements per instruction: A_VEC when K % 4 == 0, B_VEC when B's contiguous axis is a
// multiple of 4, OUT_VEC when every 4-aligned group of output columns is contiguous in memory.
// Unaligned shapes read and write single components.

const MODE_KN: u32 = 0u;
const MODE_NK: u32 = 1u;
const MODE_CONV: u32 = 2u;

/** B loads run along K for MODE_NK (its contiguous axis), along N otherwise. */
const B_ALONG_K: bool = MODE == MODE_NK;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  alpha: f32,
  a_batch: u32,   // elements between consecutive batch matrices (0: shared operand)
  b_batch: u32,
  out_batch: u32,
  // conv geometry (MODE_CONV)
  cin: u32,
  h: u32,
  w: u32,
  wo: u32,
  pixels: u32,    // Ho * Wo
  pad_top: u32,
  pad_left: u32,
  stride: u32,
  // epilogue
  has_bias: u32,   // 0 none, 1 one per column (n), 2 one per row (m)
  has_residual: u32,
  act: u32,       // ACTIVATION_CODE in activation.ts
  zero: u32,      // always 0; see rolled()
  // stream-K (gemm-tc.wgsl with STREAM_K): whole tiles, then workers sharing the tail's K steps
  dp_tiles: u32,
  sk_workers: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<T>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<T>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<T>>;
// Always bound (a small stand-in when absent) so the layout is the same for every variant.
@group(0) @binding(4) var<storage, read> bias: array<T>;
@group(0) @binding(5) var<storage, read> residual: array<vec4<T>>;

/**
 * A loop bound for the cores: n itself when UNROLL, else n plus a uniform zero, which keeps CPU
 * compilers (llvmpipe) from fully unrolling loops next to barriers - that takes them tens of
 * seconds per pipeline - while GPU compilers get the constant they want.
 */
fn rolled(n: u32) -> u32 {
  return select(n + p.zero, n, UNROLL);
}

// Split-K partial sums, [SPLIT_K][batches][M][N] f32 (N a multiple of 4): a core that runs one K
// slice per workgroup layer writes them with store_partial; gemm-reduce.wgsl sums the slices and
// applies the epilogue.
@group(0) @binding(6) var<storage, read_write> partials: array<vec4<f32>>;

var<private> a_base: u32;
var<private> b_base: u32;
var<private> out_base: u32;
var<private> partial_base: u32;

fn gemm_begin(batch: u32) {
  a_base = batch * p.a_batch;
  b_base = batch * p.b_batch;
  out_base = batch * p.out_batch;
}

/** Where K slice `slice` of batch matrix `batch` keeps its f32 partial sums (M x N each). */
fn partial_plane(slice: u32, batch: u32, batches: u32) -> u32 {
  return (slice * batches + batch) * p.m * p.n;
}

fn gemm_begin_slice(batch: u32, slice: u32, batches: u32) {
  gemm_begin(batch);
  partial_base = partial_plane(slice, batch, batches);
}

/** C[m, n..n+3] of this K slice, before the epilogue (n a multiple of 4). */
fn store_partial(m: u32, n: u32, v: vec4<f32>) {
  if (m < p.m && n < p.n) { partials[(partial_base + m * p.n + n) >> 2u] = v; }
}

// Stream-K: the output tiles after the first p.dp_tiles (the tail, which would otherwise run as a
// last, partly idle wave) have their K steps numbered tile by tile and shared out evenly, in
// order, among p.sk_workers workgroups; worker w runs tail steps [sk_begin(w), sk_begin(w + 1)).
// A tile that several workers share keeps each one's part in the f32 buffer after the M x N plane
// (SK_PARTS slots per tail tile), and gemm-stream-reduce.wgsl adds them up. The wrapper gives
// every worker at least half a tile of steps, so no tile has more than three parts.
const SK_PARTS: u32 = 3u;

fn sk_begin(w: u32, tail_steps: u32) -> u32 {
  return w * tail_steps / p.sk_workers;
}

/** The worker that runs tail step i (the last w with sk_begin(w) <= i). */
fn sk_worker(i: u32, tail_steps: u32) -> u32 {
  return ((i + 1u) * p.sk_workers - 1u) / tail_steps;
}

/** Where slot `slot` (part q of tail tile r: r · SK_PARTS + q) keeps its BM x BN f32 sums (rows of BN). */
fn sk_slot_base(slot: u32, tile_elems: u32) -> u32 {
  return p.m * p.n + slot * tile_elems;
}

fn a_elem(i: u32) -> T {
  return a[i >> 2u][i & 3u];
}

fn b_elem(i: u32) -> T {
  return b[i >> 2u][i & 3u];
}

/** A[m, k..k+3] (k a multiple of 4), zero outside the matrix. */
fn a_load4(m: u32, k: u32) -> vec4<T> {
  var v = vec4<T>(0.0);
  if (m < p.m) {
    let at = a_base + m * p.k + k;
    if (A_VEC) {
      if (k < p.k) { v = a[at >> 2u]; }
    } else {
      for (var j = 0u; j < 4u; j++) { // unroll
        if (k + j < p.k) { v[j] = a_elem(at + j); }
      }
    }
  }
  return v;
}

/**
 * Per-thread state for the B columns a thread loads, computed once outside the K loop: the
 * first column n, and for MODE_CONV each of the four columns' image offset and top-left input pixel.
 */
struct BCols {
  n: u32,
  base: vec4<i32>,
  iy: vec4<i32>,
  ix: vec4<i32>,
}

const OUTSIDE: i32 = -1073741824; // an input row no kernel offset can bring back inside

fn b_cols(n: u32) -> BCols {
  var c: BCols;
  c.n = n;
  c.base = vec4<i32>(0);
  c.iy = vec4<i32>(OUTSIDE);
  c.ix = vec4<i32>(0);
  if (MODE == MODE_CONV) {
    for (var j = 0u; j < 4u; j++) { // unroll
      let nj = n + j;
      if (nj < p.n) {
        let image = nj / p.pixels;
        let pixel = nj % p.pixels;
        let iy = i32((pixel / p.wo) * p.stride) - i32(p.pad_top);
        let ix = i32((pixel % p.wo) * p.stride) - i32(p.pad_left);
        c.iy[j] = iy;
        c.ix[j] = ix;
        c.base[j] = i32(image * p.cin * p.h * p.w) + iy * i32(p.w) + ix;
      }
    }
  }
  return c;
}

/** MODE_NK: B[k..k+3, n] (along K); otherwise B[k, n..n+3] (along N); k and n multiples of 4. Zero outside. */
fn b_load4(c: BCols, k: u32) -> vec4<T> {
  var v = vec4<T>(0.0);
  if (MODE == MODE_KN) {
    if (k < p.k) {
      let at = b_base + k * p.n + c.n;
      if (B_VEC) {
        if (c.n < p.n) { v = b[at >> 2u]; }
      } else {
        for (var j = 0u; j < 4u; j++) { // unroll
          if (c.n + j < p.n) { v[j] = b_elem(at + j); }
        }
      }
    }
  } else if (MODE == MODE_NK) {
    if (c.n < p.n) {
      let at = b_base + c.n * p.k + k;
      if (B_VEC) {
        if (k < p.k) { v = b[at >> 2u]; }
      } else {
        for (var j = 0u; j < 4u; j++) { // unroll
          if (k + j < p.k) { v[j] = b_elem(at + j); }
        }
      }
    }
  } else {
    if (k < p.k) {
      let ci = k / (KH * KW);
      let r = k % (KH * KW);
      let ky = r / KW;
      let kx = r % KW;
      let offset = i32(ci * p.h * p.w + ky * p.w + kx);
      for (var j = 0u; j < 4u; j++) { // unroll
        // Negative coordinates wrap to huge unsigned values, so one compare per axis tests both ends.
        if (u32(c.iy[j] + i32(ky)) < p.h && u32(c.ix[j] + i32(kx)) < p.w) {
          v[j] = b_elem(u32(c.base[j] + offset));
        }
      }
    }
  }
  return v;
}

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

// erf as a rational function on [-4, 4] (outside it erf is ±1 in f32): the odd/even polynomial
// pair Eigen and XLA use for float. Max abs error ≈ 4e-7, far below what the GELU bars need.
fn erf_approx(x_in: f32) -> f32 {
  let x = clamp(x_in, -4.0, 4.0);
  let x2 = x * x;
  var num = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
  num = x2 * num - 2.10102402082508e-06;
  num = x2 * num - 5.69250639462346e-05;
  num = x2 * num - 7.34990630326855e-04;
  num = x2 * num - 2.95459980854025e-03;
  num = x2 * num - 1.60960333262415e-02;
  var den = x2 * -1.45660718464996e-05 - 2.13374055278905e-04;
  den = x2 * den - 1.68282697438203e-03;
  den = x2 * den - 7.37332916720468e-03;
  den = x2 * den - 1.42647390514189e-02;
  return x * num / den;
}

fn activate(x: f32) -> f32 {
  switch p.act {
    case 1u: { return x * sigmoid(x); }
    case 2u: { return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476)); }
    case 3u: {
      // tanh saturates long before ±15; the clamp keeps exp-based tanh from overflowing to NaN.
      let t = tanh(clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0));
      return 0.5 * x * (1.0 + t);
    }
    case 4u: { return x * sigmoid(1.702 * x); }
    default: { return x; }
  }
}

fn bias_at(m: u32, n: u32) -> f32 {
  if (p.has_bias == 0u) { return 0.0; }
  return f32(bias[select(n, m, p.has_bias == 2u)]);
}

/** Output index of C[m, n]: row-major per batch, or NCHW for conv (n = image · Ho·Wo + pixel). */
fn out_index(m: u32, n: u32) -> u32 {
  if (MODE == MODE_CONV) { return ((n / p.pixels) * p.m + m) * p.pixels + n % p.pixels; }
  return out_base + m * p.n + n;
}

/** Writes C[m, n..n+3] (n a multiple of 4) through the epilogue: alpha, bias, activation, then residual. */
fn store4(m: u32, n: u32, v: vec4<f32>) {
  if (m >= p.m) { return; }
  if (OUT_VEC && n + 3u < p.n) {
    let at = out_index(m, n);
    var x: vec4<f32>;
    for (var j = 0u; j < 4u; j++) { // unroll
      x[j] = activate(v[j] * p.alpha + bias_at(m, n + j));
    }
    if (p.has_residual != 0u) { x += vec4<f32>(residual[at >> 2u]); }
    out[at >> 2u] = vec4<T>(x);
    return;
  }
  for (var j = 0u; j < 4u; j++) { // unroll
    if (n + j < p.n) {
      let at = out_index(m, n + j);
      var x = activate(v[j] * p.alpha + bias_at(m, n + j));
      if (p.has_residual != 0u) { x += f32(residual[at >> 2u][at & 3u]); }
      out[at >> 2u][at & 3u] = T(x);
    }
  }
}

// Channel concat of NCHW tensors: per batch, out holds a's block (Ca·S) then b's (Cb·S).
// Expects from the prelude: T, VS (lane alias; W = 4 when both blocks divide by 4).

struct Params {
  n: u32,         // output vectors
  a_vecs: u32,    // Ca·S / W
  b_vecs: u32,    // Cb·S / W
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<VS>;
@group(0) @binding(2) var<storage, read> b: array<VS>;
@group(0) @binding(3) var<storage, read_write> out: array<VS>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * p.row_width + gid.x;
  if (i >= p.n) { return; }
  let per_batch = p.a_vecs + p.b_vecs;
  let batch = i / per_batch;
  let r = i - batch * per_batch;
  if (r < p.a_vecs) {
    out[i] = a[batch * p.a_vecs + r];
  } else {
    out[i] = b[batch * p.b_vecs + (r - p.a_vecs)];
  }
}

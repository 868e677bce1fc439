// CA-ToMe's adaptive merge count: per batch row, how many keys (best similarities) reach the
// threshold; counts[rows] gets the maximum over the rows, the r that every row then merges (so
// both halves of a guided batch keep one token count). With tokens > 0, counts[rows + 1] gets
// tokens − that maximum: the length of the merged sequence, for kernels that bound their work by it
// on the GPU. One workgroup does all rows.

struct Params {
  n: u32,    // keys per batch row
  rows: u32,
  threshold: f32,
  tokens: u32, // 0: no merged length to write
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> keys: array<f32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;

var<workgroup> total: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var most = 0u;
  for (var b = 0u; b < p.rows; b++) {
    if (li == 0u) { atomicStore(&total, 0u); }
    workgroupBarrier();
    var c = 0u;
    for (var i = li; i < p.n; i += 256u) {
      c += select(0u, 1u, keys[b * p.n + i] >= p.threshold);
    }
    atomicAdd(&total, c);
    workgroupBarrier();
    let row_count = atomicLoad(&total);
    most = max(most, row_count);
    if (li == 0u) { counts[b] = row_count; }
    workgroupBarrier();
  }
  if (li == 0u) {
    counts[p.rows] = most;
    if (p.tokens > 0u) { counts[p.rows + 1u] = p.tokens - most; }
  }
}

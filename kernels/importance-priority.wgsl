// Sort keys that put forced merges first: the first `forced` sources of every row (the tokens
// outside the importance pool) get their best cosine similarity plus 4, which lifts them above
// every pool source (similarities lie in [−1, 1]) while keeping their own similarity order; pool
// sources keep their similarity. Ranking these keys and merging the r best then merges every
// forced source and the r − forced pool sources that match best.

struct Params {
  total: u32, // B · n_src
  n_src: u32,
  forced: u32,
  row_width: u32, // invocations per row of the 2-D grid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> similarity: array<f32>;
@group(0) @binding(2) var<storage, read_write> keys: array<f32>;

const FORCED_BONUS: f32 = 4.0;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.y * p.row_width + gid.x;
  if (e >= p.total) { return; }
  keys[e] = similarity[e] + select(0.0, FORCED_BONUS, e % p.n_src < p.forced);
}

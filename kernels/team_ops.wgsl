// What a team reduction combines, and the entry points kernels call (team_reduce comes from
// team_reduce_plain.wgsl or team_reduce_subgroup.wgsl).

const TEAM_SUM: u32 = 0u;
const TEAM_MAX: u32 = 1u;
const TEAM_MOMENTS: u32 = 2u; // (count, mean, M2, -), merged with Chan et al.'s update
const TEAM_SOFTMAX: u32 = 3u; // (max, sum of exp(v − max), -, -), the online-softmax merge

fn team_combine(a: vec4f, b: vec4f, op: u32) -> vec4f {
  switch op {
    case TEAM_SUM: { return a + b; }
    case TEAM_MAX: { return max(a, b); }
    case TEAM_MOMENTS: {
      let n = a.x + b.x;
      if (n == 0.0) { return a; }
      let delta = b.y - a.y;
      let wb = b.x / n;
      return vec4f(n, a.y + delta * wb, a.z + b.z + delta * delta * a.x * wb, 0.0);
    }
    default: {
      let m = max(a.x, b.x);
      return vec4f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m), 0.0, 0.0);
    }
  }
}

fn team_sum(v: f32, li: u32) -> f32 { return team_reduce(vec4f(v, 0.0, 0.0, 0.0), li, TEAM_SUM).x; }
fn team_max(v: f32, li: u32) -> f32 { return team_reduce(vec4f(v, 0.0, 0.0, 0.0), li, TEAM_MAX).x; }
/** m: (count, mean, M2) of this invocation's values → the same over the team. */
fn team_moments(m: vec3f, li: u32) -> vec3f { return team_reduce(vec4f(m, 0.0), li, TEAM_MOMENTS).xyz; }
/** ms: (max, Σ exp(v − max)) of this invocation's values → the same over the team. */
fn team_softmax(ms: vec2f, li: u32) -> vec2f { return team_reduce(vec4f(ms, 0.0, 0.0), li, TEAM_SOFTMAX).xy; }

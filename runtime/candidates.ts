// Kernel variants that sweeps found promising but that are not yet chosen by default (see
// kernels/TUNING.md). Switching them on for a whole process, with WEBGPU_DIFFUSION_CANDIDATES or
// RuntimeOptions.candidates, lets one device call time the whole pipeline with and without them.

/**
 * - 'gemm-memory': large tensor-core GEMMs store their results through memory and stage K steps
 *   of 32 on 128x128 tiles (kernels/gemm.ts);
 * - 'gemm-split-warps': tensor-core GEMMs split K until they have about 32 subgroups per SM
 *   instead of 320 workgroups (kernels/gemm.ts withSplit; im2col convs always do);
 * - 'conv-rows': 3x3 stride-1 convs read their image in place ('rows' lowering, kernels/conv2d.ts)
 *   instead of writing im2col out;
 * - 'attention-unrolled': the tensor-core attention unrolls its fragment loops and keeps its
 *   fragments in variables, not indexed arrays (kernels/attention.ts MatrixVariant.rolled).
 * The K/V ring of the tensor-core attention was one until it lost on the H100 (December 2026).
 */
export const KERNEL_CANDIDATES = ['gemm-memory', 'gemm-split-warps', 'conv-rows', 'attention-unrolled'] as const;
export type KernelCandidate = (typeof KERNEL_CANDIDATES)[number];

export const CANDIDATES_ENV = 'WEBGPU_DIFFUSION_CANDIDATES';

/** Candidates from a comma-separated list or an array; an unknown name is an error that lists the known ones. */
export function parseCandidates(list: string | readonly string[] | undefined, source = CANDIDATES_ENV): ReadonlySet<KernelCandidate> {
  const names = typeof list === 'string' ? list.split(',') : (list ?? []);
  const out = new Set<KernelCandidate>();
  for (const raw of names) {
    const name = raw.trim();
    if (name === '') continue;
    if (!(KERNEL_CANDIDATES as readonly string[]).includes(name)) {
      throw new Error(`${source}: unknown kernel candidate '${name}' (known: ${KERNEL_CANDIDATES.join(', ')})`);
    }
    out.add(name as KernelCandidate);
  }
  return out;
}

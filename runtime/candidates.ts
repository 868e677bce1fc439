// Kernel variants that sweeps found promising but that are not yet chosen by default (see
// kernels/TUNING.md). Switching them on for a whole process, with WEBGPU_DIFFUSION_CANDIDATES or
// RuntimeOptions.candidates, lets one device call time the whole pipeline with and without them.

/**
 * - 'gemm-split-warps': tensor-core GEMMs split K until they have about 32 subgroups per SM
 *   instead of 320 workgroups (kernels/gemm.ts withSplit; im2col convs always do).
 * The K/V ring of the tensor-core attention and 3x3 convs read in place without im2col ('rows')
 * were candidates until they lost on the GPU; unrolled attention and deep-K GEMMs with results
 * through memory, eight-pixel im2col stores and stream-K, until they won (December 2026).
 */
export const KERNEL_CANDIDATES = ['gemm-split-warps'] as const;
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

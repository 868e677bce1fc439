// Pipeline conformance: the golden txt2img generation (PLMS, CFG) against diffusers'
// StableDiffusionPipeline — initial, intermediate and final latents, and the 8-bit image — plus the
// same generation with ToMe where the golden has it (tomesd ratio 0.5, use_rand False).

import { StableDiffusion } from '../stable-diffusion.js';
import { toByte } from '../image.js';
import { maxRelError } from './metrics.js';
import { imageDifference, pipelineGoldenSpec, runGolden } from './pipeline-run.js';
import { MODEL_TOLERANCE, type ConformancePart, type PartContext } from './types.js';
import type { GoldenFile } from './golden.js';
import type { MergeOptions } from '../../merge/index.js';
import { ClipTokenizer } from '../../clip/tokenizer.js';

const GOLDEN = 'pipeline';

/** Golden prefixes and the merge settings that produced them (index.json "pipeline".tome). */
const VARIANTS: readonly { prefix: string; merge?: MergeOptions }[] = [
  { prefix: '' },
  // 'exact': the golden's choices come from f32 similarities (see TomesdBlockOptions.similarity).
  { prefix: 'tome0.5.', merge: { method: 'tome', ratio: 0.5, useRand: false, maxDownsample: 1, similarity: 'exact' } },
];

export const pipelinePart: ConformancePart = {
  name: 'pipeline',
  description: 'txt2img with classifier-free guidance and PLMS (and with ToMe) against diffusers',
  claims: (file) => file === GOLDEN,
  async run(ctx: PartContext): Promise<void> {
    if (!ctx.golden.has(GOLDEN)) return;
    const { rt, dtype } = ctx;
    const golden = await ctx.golden.open(GOLDEN);
    const files = await ctx.folder();
    const sd = await StableDiffusion.load(files.path, { dtype, runtime: rt });
    try {
      const spec = pipelineGoldenSpec({ seed: ctx.golden.value('seed'), pipeline: ctx.golden.section(GOLDEN) }, golden.shape('latents0'), sd.vaeScale);
      await checkPromptIds(ctx, golden, files.tokenizerDir, spec.prompt, spec.negativePrompt);
      const initial = await golden.floats('latents0');
      for (const v of VARIANTS) {
        if (!golden.has(`${v.prefix}latents`)) continue;
        const run = await runGolden(rt, sd, spec, initial, { prefix: v.prefix, decode: true, extra: v.merge ? { merge: v.merge } : {} });
        for (const [name, got] of run.latents) {
          if (!golden.has(name)) continue;
          ctx.check({ name: `pipeline ${name}`, metric: 'max rel error', error: maxRelError(got, await golden.floats(name)), bar: MODEL_TOLERANCE[dtype] });
        }
        const image = run.result?.images[0];
        if (image) await checkImage(ctx, golden, v.prefix, image.rgb, image.width, image.height);
      }
    } finally {
      sd.dispose();
    }
  },
};

/** The 8-bit image within ±1 of the golden's (image_u8, or the float image rounded as diffusers does). */
async function checkImage(ctx: PartContext, golden: GoldenFile, prefix: string, rgb: Uint8Array, width: number, height: number): Promise<void> {
  const u8 = `${prefix}image_u8`;
  const float = `${prefix}image`;
  let want: ArrayLike<number> | null = null;
  if (golden.has(u8)) want = await golden.ints(u8);
  if (golden.has(float)) {
    const values = await golden.floats(float);
    want ??= Uint8Array.from(values, toByte);
  }
  if (!want) return;
  const { worst, differing } = imageDifference(rgb, want, width, height);
  ctx.check({ name: `pipeline ${prefix}image (8-bit)`, metric: 'max abs diff', error: worst, bar: 1, note: `${differing} of ${rgb.length} values differ` });
}

/** The prompt and negative prompt token ids the pipeline feeds the text encoder. */
async function checkPromptIds(ctx: PartContext, golden: GoldenFile, tokenizerDir: string | null, prompt: string, negative: string): Promise<void> {
  if (!tokenizerDir) return;
  const tokenizer = await ClipTokenizer.load(tokenizerDir);
  for (const [name, text] of [['prompt_ids', prompt], ['negative_ids', negative]] as const) {
    if (!golden.has(name)) continue;
    const want = await golden.ints(name);
    const got = (await tokenizer.encode(text)).ids;
    let differing = Math.abs(got.length - want.length);
    for (let i = 0; i < Math.min(got.length, want.length); i++) if (got[i] !== want[i]) differing++;
    ctx.check({ name: `pipeline ${name}`, metric: 'differing ids', error: differing, bar: 0 });
  }
}

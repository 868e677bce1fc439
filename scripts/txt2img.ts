// Text to image on the command line: node scripts/txt2img.js "a prompt" [options].
import { mkdir } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { StableDiffusion, type GenerateOptions } from '../pipeline/stable-diffusion.js';
import { encodePng, writeFileAtomic } from '../pipeline/png.js';
import { outputPaths, parametersText } from '../pipeline/metadata.js';
import { describeMerge } from '../pipeline/merge.js';
import { ProgressReporter } from '../pipeline/progress.js';
import { Cli, runScript, ScriptError, UsageError } from './cli.js';
import {
  BUNDLED_MODEL_NOTICE,
  interruptOnSigint,
  loadModel,
  mergeOptions,
  MERGE_OPTIONS,
  MODEL_OPTIONS,
  modelPath,
  resolveSettings,
  SAMPLING_OPTIONS,
  samplingSettings,
  untilInterrupted,
} from './pipeline-options.js';

const VERSION = 'webgpu-diffusion 0.1.0';

const cli = new Cli({
  name: 'txt2img',
  usage: 'node scripts/txt2img.js "PROMPT" [--negative-prompt TEXT] [--model DIR|FILE] [--steps N] [--seed N] [--out FILE.png] [options]',
  description: 'Generates images from a text prompt with Stable Diffusion 1.x and writes them as PNG with the settings in a "parameters" text chunk.',
  positionals: { min: 1, max: 1, name: 'prompt' },
  options: {
    'negative-prompt': { type: 'string', default: '', description: 'what the image should not show' },
    ...MODEL_OPTIONS,
    ...SAMPLING_OPTIONS,
    seed: { type: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER, description: 'torch CPU generator seed (default: random, printed)' },
    out: {
      type: 'string',
      default: 'out.png',
      valueName: 'FILE.png',
      description: 'output file; several images get -1, -2, … or fill {i} (and {seed}) in the name',
    },
    ...MERGE_OPTIONS,
    'tiled-decode': { type: 'boolean', description: 'decode the VAE in tiles (less memory for large images)' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress output' },
  },
  epilogue: [
    'examples:',
    '  node scripts/txt2img.js "a lighthouse at dusk" --steps 4 --out lighthouse.png       (bundled tiny test model)',
    '  node scripts/txt2img.js "a lighthouse at dusk" --model ~/models/stable-diffusion-v1-5 --seed 42',
    '  node scripts/txt2img.js "a lighthouse at dusk" --model v1-5-pruned-emaonly.safetensors --tokenizer ~/models/stable-diffusion-v1-5/tokenizer',
    'Ctrl-C stops after the current step without writing anything.',
  ].join('\n'),
});

await runScript(cli, async ({ values, positionals }) => {
  const prompt = positionals[0]!;
  if (extname(values.out).toLowerCase() !== '.png') throw new UsageError(`--out must name a .png file, got ${JSON.stringify(values.out)}`);
  const merge = mergeOptions(values);
  const model = modelPath(values);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (model.bundled) log(BUNDLED_MODEL_NOTICE);
  const reporter = values.quiet ? null : new ProgressReporter();
  const interrupt = interruptOnSigint();

  const sd = await loadModel(model.path, values, reporter);
  try {
    const options: GenerateOptions = {
      prompt,
      negativePrompt: values['negative-prompt'],
      ...samplingSettings(values),
      n: values.n,
      seed: values.seed,
      merge,
      tiledDecode: values['tiled-decode'],
      signal: interrupt.signal,
      onProgress: reporter?.update,
    };
    resolveSettings(sd, options);
    if (!values.quiet) log(`model ${sd.info.path} (${sd.info.layout}, ${sd.dtype}; VAE ${sd.info.vaeDType}) on ${describeAdapter(sd)}`);

    const result = await untilInterrupted(() => sd.generateWithStats(options), reporter);
    const s = result.settings;
    if (result.truncatedTokens.prompt > 0) {
      log(`warning: the prompt is longer than the text encoder's ${sd.info.textEncoder.maxPositions} tokens; the last ${result.truncatedTokens.prompt} were dropped`);
    }
    if (result.truncatedTokens.negativePrompt > 0) {
      log(`warning: the negative prompt is too long; its last ${result.truncatedTokens.negativePrompt} tokens were dropped`);
    }
    const modelName = model.bundled ? 'tiny-sd test model' : sd.info.name.replace(/\.safetensors$/i, '');
    const paths = outputPaths(values.out, result.images.length, result.seed);
    const extra: [string, string][] = [...describeMerge(merge), ['Version', VERSION]];
    for (const [k, image] of result.images.entries()) {
      const path = resolve(paths[k]!);
      const text = parametersText(s, { model: modelName, batchIndex: image.index, extra });
      await mkdir(dirname(path), { recursive: true });
      try {
        await writeFileAtomic(path, encodePng(image.width, image.height, image.rgb, { parameters: text, Software: VERSION }));
      } catch (e) {
        throw new ScriptError(`cannot write ${path}: ${(e as Error).message}`);
      }
      process.stdout.write(`${path}\n`);
    }
    const t = result.timings;
    const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const rate = result.evaluations / (t.denoiseMs / 1000);
    log(
      `seed ${result.seed}; text ${sec(t.textMs)}, denoise ${sec(t.denoiseMs)} (${result.evaluations} U-Net evaluations, ` +
        `${rate >= 1 ? `${rate.toFixed(2)} it/s` : `${(1 / rate).toFixed(2)} s/it`}), decode ${sec(t.decodeMs)}; ` +
        `${sec(t.totalMs / result.images.length)} per image`,
    );
  } finally {
    interrupt.release();
    sd.dispose();
  }
});

function describeAdapter(sd: StableDiffusion): string {
  const a = sd.runtime.gpu.adapterInfo;
  return a.description || a.device || a.vendor || 'an unnamed adapter';
}

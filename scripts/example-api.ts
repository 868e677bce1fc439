// The embedding API in a few lines: load a model, generate an image, write it, free everything.
// node scripts/example-api.js [--model DIR|FILE] [--out example.png]
import { StableDiffusion, encodePng, writeFileAtomic, parametersText } from '../index.js';
import { Cli, runScript } from './cli.js';
import { BUNDLED_MODEL_NOTICE, modelPath } from './pipeline-options.js';

const cli = new Cli({
  name: 'example-api',
  usage: 'node scripts/example-api.js [--model DIR|FILE] [--out FILE.png]',
  description: 'Generates one image through the embedding API (StableDiffusion.load / generate / dispose) and writes it.',
  options: {
    model: { type: 'string', valueName: 'DIR|FILE', description: 'a diffusers folder or .safetensors file (default: the bundled tiny test model)' },
    out: { type: 'string', default: 'example.png', valueName: 'FILE.png', description: 'where to write the image' },
  },
});

await runScript(cli, async ({ values }) => {
  const model = modelPath(values);
  if (model.bundled) console.error(BUNDLED_MODEL_NOTICE);

  const sd = await StableDiffusion.load(model.path, { dtype: 'auto' });
  try {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    const { images, settings } = await sd.generateWithStats({
      prompt: 'a watercolor painting of a lighthouse at dusk',
      steps: 8,
      seed: 42,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.stage === 'denoise') process.stderr.write(`\rstep ${p.step}/${p.total}${p.step === p.total ? '\n' : ''}`);
      },
    });
    const [image] = images;
    const png = encodePng(image!.width, image!.height, image!.rgb, { parameters: parametersText(settings, { model: sd.info.name }) });
    await writeFileAtomic(values.out, png);
    console.log(`wrote ${values.out} (${image!.width}x${image!.height}, seed ${image!.seed})`);
  } finally {
    sd.dispose();
  }
});

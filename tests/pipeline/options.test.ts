// The pieces around generation that need no GPU: option parsing, PNG metadata, file names, pixel
// conversion, the progress reporter and the U-Net FLOP count.

import t from 'tap';
import { Writable } from 'node:stream';
import { Cli, UsageError } from '../../scripts/cli.js';
import { MERGE_OPTIONS, mergeOptions } from '../../scripts/pipeline-options.js';
import { outputPaths, parametersText } from '../../pipeline/metadata.js';
import { toByte, toRgb8 } from '../../pipeline/image.js';
import { ProgressReporter } from '../../pipeline/progress.js';
import { describeMerge } from '../../pipeline/merge.js';
import { unetFlops } from '../../unet/flops.js';
import { SD15_UNET_CONFIG } from '../../unet/config.js';
import type { ResolvedSettings } from '../../pipeline/stable-diffusion.js';

const cli = new Cli({
  name: 'demo',
  usage: 'demo [options] WORD',
  description: 'A demo.',
  positionals: { min: 1, max: 1, name: 'word' },
  options: {
    steps: { type: 'integer', default: 50, min: 1, description: 'steps' },
    scale: { type: 'number', min: 0, description: 'a scale' },
    size: { type: 'integer', multipleOf: 8, description: 'a size' },
    kind: { type: 'choice', choices: ['a', 'b'], default: 'a', description: 'a kind' },
    tag: { type: 'strings', description: 'tags' },
    loud: { type: 'boolean', short: 'l', description: 'be loud' },
  },
});

t.test('Cli parses typed values and defaults', async (t) => {
  const { values, positionals, help } = cli.parse(['w', '--steps', '20', '--scale=0.5', '--tag', 'x', '--tag', 'y', '-l', '--kind', 'b']);
  t.same(values, { steps: 20, scale: 0.5, size: undefined, kind: 'b', tag: ['x', 'y'], loud: true });
  t.same(positionals, ['w']);
  t.equal(help, false);
  const steps: number = values.steps; // typed: defaulted options are never undefined
  t.equal(steps, 20);
  t.same(cli.parse(['w']).values, { steps: 50, scale: undefined, size: undefined, kind: 'a', tag: [], loud: false });
  t.equal(cli.parse(['--help']).help, true, '--help needs no positional');
  t.match(cli.help(), /--steps N\s+steps \[≥ 1, default 50\]/);
  t.match(cli.help(), /--kind a\|b\s+a kind \[default a\]/);
});

t.test('Cli refuses bad command lines with one-line UsageErrors', async (t) => {
  const cases: [string[], RegExp][] = [
    [['w', '--steps', '0'], /^--steps must be at least 1, got 0$/],
    [['w', '--steps', '2.5'], /^--steps must be an integer, got "2.5"$/],
    [['w', '--scale', 'x'], /^--scale must be a number, got "x"$/],
    [['w', '--size', '12'], /^--size must be a multiple of 8, got 12$/],
    [['w', '--kind', 'c'], /^--kind must be one of a, b, got "c"$/],
    [['w', '--nope'], /^unknown option --nope$/],
    [['w', '--steps'], /^--steps needs a value$/],
    [['w', '--loud=yes'], /^--loud takes no value$/],
    [['w', '--steps', '1', '--steps', '2'], /^--steps given 2 times$/],
    [[], /^missing word$/],
    [['w', 'v'], /^expected at most 1 word argument, got 2/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => cli.parse(argv), message, argv.join(' '));
    try {
      cli.parse(argv);
    } catch (e) {
      t.ok(e instanceof UsageError && !e.message.includes('\n'), 'a one-line UsageError');
    }
  }
});

const settings: ResolvedSettings = {
  prompt: 'a cat',
  negativePrompt: '',
  n: 1,
  guidanceScale: 7.5,
  steps: 20,
  width: 512,
  height: 512,
  seed: 1234,
  scheduler: 'plms',
  clipSkip: 1,
};

t.test('parameters text as AUTOMATIC1111 writes it', async (t) => {
  t.equal(parametersText(settings, { model: 'v1-5' }), 'a cat\nSteps: 20, Sampler: PLMS, CFG scale: 7.5, Seed: 1234, Size: 512x512, Model: v1-5');
  t.equal(
    parametersText({ ...settings, negativePrompt: 'blurry', n: 2, clipSkip: 2, scheduler: 'dpmpp-2m' }, { batchIndex: 1, extra: describeMerge({ method: 'tome', ratio: 0.5 }) }),
    'a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7.5, Seed: 1234, Size: 512x512, Clip skip: 2, Batch size: 2, Batch pos: 1, ' +
      'Token merging: tome, Token merging ratio: 0.5',
  );
  t.same(describeMerge(undefined), []);
  t.match(parametersText(settings, { model: 'a, b' }), /Model: "a, b"$/, 'values with separators are quoted');
});

t.test('output paths', async (t) => {
  t.same(outputPaths('out.png', 1, 7), ['out.png']);
  t.same(outputPaths('dir/out.png', 3, 7), ['dir/out-1.png', 'dir/out-2.png', 'dir/out-3.png']);
  t.same(outputPaths('img-{seed}-{i}.png', 2, 7), ['img-7-1.png', 'img-7-2.png']);
  t.same(outputPaths('img-{seed}.png', 1, 9), ['img-9.png']);
});

t.test('pixels: round(clamp(x/2 + 0.5, 0, 1) · 255), ties to even, planar to interleaved', async (t) => {
  t.same([-1, -2, 1, 3, 0, NaN].map(toByte), [0, 0, 255, 255, 128, 0]);
  // these give exactly 100.5 and 101.5 after ·255 in float32: ties go to the even neighbour, as numpy
  t.same([toByte(-0.21176469326019287), toByte(-0.20392155647277832)], [100, 102]);
  const planar = Float32Array.from([-1, 1, 0, 0, 1, -1, 1, 1, 1, 1, 1, 1]); // [1, 3, 2, 2]
  t.same([...toRgb8(planar, 0, 3, 2, 2)], [0, 255, 255, 255, 0, 255, 128, 255, 255, 128, 255, 255]);
});

t.test('progress reporter: plain lines without a TTY', async (t) => {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  const r = new ProgressReporter({ stream, interactive: false });
  for (let i = 0; i <= 20; i++) r.update({ stage: 'denoise', step: i, total: 20 });
  r.update({ stage: 'decode', step: 0, total: 1 });
  r.update({ stage: 'decode', step: 1, total: 1 });
  const lines = text.trim().split('\n');
  t.equal(lines.filter((l) => l.startsWith('denoising')).length, 11, 'first, every 10%, last');
  t.match(lines.find((l) => l.startsWith('denoising 20/20')) ?? '', /(it\/s|s\/it)/);
  t.match(lines[lines.length - 1]!, /^decoding\s+done/);

  let tty = '';
  const ttyStream = new Writable({
    write(chunk, _enc, done) {
      tty += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  const bar = new ProgressReporter({ stream: ttyStream, interactive: true });
  bar.update({ stage: 'denoise', step: 0, total: 4 });
  bar.update({ stage: 'denoise', step: 2, total: 4 });
  t.match(tty, /\rdenoising \[#{14}\.{14}\] 2\/4/);
  bar.update({ stage: 'denoise', step: 4, total: 4 });
  t.ok(tty.endsWith('\n'), 'the bar ends its line when the stage completes');
});

t.test('U-Net FLOPs from the architecture', async (t) => {
  const one = unetFlops(SD15_UNET_CONFIG, { batch: 1, latentHeight: 64, latentWidth: 64, contextTokens: 77 });
  // SD 1.5 at 512×512 is usually quoted at ~0.4 T multiply-adds per image
  t.ok(one.total > 7.5e11 && one.total < 8.5e11, `SD 1.5 512×512: ${(one.total / 1e9).toFixed(1)} GFLOP`);
  t.equal(one.total, one.conv + one.linear + one.attention);
  const two = unetFlops(SD15_UNET_CONFIG, { batch: 2, latentHeight: 64, latentWidth: 64, contextTokens: 77 });
  t.equal(two.total, 2 * one.total, 'linear in the batch');
  const big = unetFlops(SD15_UNET_CONFIG, { batch: 1, latentHeight: 128, latentWidth: 128, contextTokens: 77 });
  t.ok(big.attention > 4 * one.attention, 'self-attention grows faster than the token count');
  // conv_in alone: 2 · 64² · 320 · 4 · 9
  const convIn = 2 * 64 * 64 * 320 * 4 * 9;
  t.ok(one.conv > convIn);
});

t.test('merge flags become the method options', async (t) => {
  const mergeCli = new Cli({ name: 'm', usage: 'm', description: 'm', options: MERGE_OPTIONS });
  const parse = (...argv: string[]) => mergeOptions(mergeCli.parse(argv).values);
  t.equal(parse(), undefined);
  t.same(parse('--merge', 'tome', '--merge-ratio', '0.5', '--merge-no-rand', '--merge-max-downsample', '2'), {
    method: 'tome',
    ratio: 0.5,
    useRand: false,
    maxDownsample: 2,
  });
  t.same(parse('--merge', 'catome', '--merge-schedule', '0, 5,10', '--merge-threshold', '0.8'), { method: 'catome', checkpoints: [0, 5, 10], threshold: 0.8 });
  t.same(parse('--merge', 'catome', '--merge-schedule', 'CONFIG_1'), { method: 'catome', checkpoints: 'CONFIG_1' });
  t.same(parse('--merge', 'toma', '--merge-tiles', '16', '--merge-interval', '2'), { method: 'toma', tiles: 16, recomputeInterval: 2 });
  t.same(parse('--merge', 'importance', '--merge-pool', '0.6', '--merge-dst', '0.2'), { method: 'importance', poolFraction: 0.6, dstFraction: 0.2 });
  t.throws(() => parse('--merge-ratio', '0.5'), /--merge-ratio needs --merge METHOD/);
  t.throws(() => parse('--merge', 'tome', '--merge-threshold', '0.5'), /--merge-threshold does not apply to --merge tome/);
  t.throws(() => parse('--merge', 'catome', '--merge-schedule', 'SOMETIMES'), /--merge-schedule must be one of/);
  t.same(parse('--merge', 'tome', '--merge-similarity', 'exact'), { method: 'tome', similarity: 'exact' });
  t.throws(() => parse('--merge', 'toma', '--merge-similarity', 'exact'), /--merge-similarity does not apply to --merge toma/);
});

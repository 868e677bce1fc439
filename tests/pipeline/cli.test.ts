// scripts/txt2img.js end to end on the bundled tiny model, and its handling of bad command lines.

import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { fromRoot } from '../../runtime/paths.js';
import { readPngText } from '../../pipeline/png.js';

const script = fromRoot('scripts', 'txt2img.js');

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function txt2img(args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** stderr without Dawn's own warnings about device limits. */
const ours = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('Warning:'));

t.setTimeout(900_000);

t.test('generates PNGs with the settings in a parameters chunk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'txt2img-'));
  const out = join(dir, 'sub', 'cube.png');
  const r = await txt2img(['a red cube', '--negative-prompt', 'blurry', '--steps', '2', '--width', '64', '--height', '64', '--n', '2', '--seed', '7', '--out', out]);
  t.equal(r.code, 0, `exit 0 (stderr: ${r.stderr.slice(-500)})`);
  const files = [join(dir, 'sub', 'cube-1.png'), join(dir, 'sub', 'cube-2.png')];
  t.same(r.stdout.trim().split('\n'), files, 'prints the paths written');
  t.match(r.stderr, /using the bundled tiny test model \(random weights: the image is noise\); pass --model/);
  t.match(r.stderr, /seed 7; text [\d.]+ s, denoise [\d.]+ s \(3 U-Net evaluations, [\d.]+ (it\/s|s\/it)\), decode [\d.]+ s; [\d.]+ s per image/);
  t.same(readdirSync(join(dir, 'sub')).sort(), ['cube-1.png', 'cube-2.png'], 'nothing else left behind');
  for (const [k, file] of files.entries()) {
    const bytes = readFileSync(file);
    const png = pngjs.PNG.sync.read(bytes);
    t.same([png.width, png.height], [64, 64]);
    let sum = 0;
    for (let i = 0; i < png.data.length; i += 4) sum += png.data[i]! + png.data[i + 1]! + png.data[i + 2]!;
    t.ok(sum > 0, 'pixels decode (not all black)');
    const text = readPngText(bytes)['parameters'];
    t.equal(
      text,
      'a red cube\nNegative prompt: blurry\n' +
        `Steps: 2, Sampler: PLMS, CFG scale: 7.5, Seed: 7, Size: 64x64, Model: tiny-sd test model, Batch size: 2, Batch pos: ${k}, Version: webgpu-diffusion 0.1.0`,
    );
  }
});

t.test('--help prints the options and exits 0', async (t) => {
  const r = await txt2img(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^usage: node scripts\/txt2img\.js "PROMPT"/);
  for (const flag of ['--negative-prompt', '--model', '--steps', '--guidance', '--seed', '--width', '--height', '--scheduler', '--n', '--dtype', '--clip-skip', '--out', '--merge']) {
    t.match(r.stdout, new RegExp(`\\s${flag}\\b`), `documents ${flag}`);
  }
});

t.test('bad command lines: one line and the usage, exit 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['x', '--steps', '0'], /^txt2img: --steps must be at least 1, got 0$/],
    [['x', '--steps', 'many'], /^txt2img: --steps must be an integer, got "many"$/],
    [['x', '--bogus'], /^txt2img: unknown option --bogus$/],
    [['x', '--scheduler', 'heun'], /^txt2img: --scheduler must be one of plms, ddim, euler, dpmpp-2m, got "heun"$/],
    [['x', '--width', '100'], /^txt2img: --width must be a multiple of 8, got 100$/],
    [['x', '--out', 'a.jpg'], /^txt2img: --out must name a \.png file/],
    [['x', '--seed'], /^txt2img: --seed needs a value$/],
    [[], /^txt2img: missing prompt$/],
    [['a', 'cat'], /^txt2img: expected at most 1 prompt argument, got 2/],
  ];
  for (const [args, message] of cases) {
    const r = await txt2img(args);
    const lines = ours(r.stderr);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(lines[0] ?? '', message, `${args.join(' ')}: ${lines[0]}`);
    t.match(lines[1] ?? '', /^usage: /, 'then the usage');
    t.equal(r.stdout, '');
  }
});

t.test('errors: a clear line, exit 1, no stack trace', async (t) => {
  const r = await txt2img(['x', '--model', '/nonexistent/model']);
  t.equal(r.code, 1);
  t.same(ours(r.stderr), ['txt2img: model /nonexistent/model does not exist (pass a diffusers folder or a .safetensors file)']);
  const dir = mkdtempSync(join(tmpdir(), 'txt2img-'));
  const notModel = await txt2img(['x', '--model', dir]);
  t.equal(notModel.code, 1);
  const lines = ours(notModel.stderr);
  t.equal(lines.length, 1, `one line: ${lines.join(' | ')}`);
  t.match(lines[0], /is not a diffusers folder/);
  t.notMatch(notModel.stderr, /\n\s+at /, 'no stack trace');
});

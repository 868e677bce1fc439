// Tokenizer conformance: the ids of every prompt in golden/index.json, exactly, from both tokenizer
// layouts a model folder can have (tokenizer.json, and vocab.json + merges.txt as SD 1.5 ships).

import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipTokenizer } from '../../clip/tokenizer.js';
import { requireTokenizerDir } from '../model-files.js';
import { differingIds } from './metrics.js';
import type { ConformancePart, PartContext } from './types.js';

const GOLDEN = 'tokenizer';
/** What the slow layout needs, and the config that sets its special tokens and length. */
const SLOW_LAYOUT_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];

export const tokenizerPart: ConformancePart = {
  name: 'tokenizer',
  description: 'CLIP token ids of the index prompts, exact, from tokenizer.json and from vocab.json + merges.txt',
  claims: (file) => file === GOLDEN,
  async run(ctx: PartContext): Promise<void> {
    if (!ctx.golden.has(GOLDEN)) return;
    const prompts = ctx.golden.section(GOLDEN)?.['prompts'];
    if (!Array.isArray(prompts) || !prompts.every((p) => typeof p === 'string')) {
      ctx.fail('tokenizer', 'golden/index.json has no tokenizer.prompts list of strings');
      return;
    }
    const golden = await ctx.golden.open(GOLDEN);
    const [rows, cols] = golden.shape('input_ids') as [number, number];
    if (rows !== prompts.length) {
      ctx.fail('tokenizer', `golden input_ids has ${rows} rows for ${prompts.length} prompts`);
      return;
    }
    const ids = await golden.ints('input_ids');
    const dir = requireTokenizerDir(await ctx.folder());

    const layouts: [string, string][] = [];
    if (existsSync(join(dir, 'tokenizer.json'))) layouts.push(['tokenizer.json', dir]);
    let slowDir: string | null = null;
    if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) {
      // a folder without tokenizer.json, so the loader takes the vocab + merges path
      slowDir = mkdtempSync(join(tmpdir(), 'conformance-tokenizer-'));
      for (const f of SLOW_LAYOUT_FILES) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(slowDir, f));
      layouts.push(['vocab.json + merges.txt', slowDir]);
    }
    try {
      if (layouts.length === 0) ctx.fail('tokenizer', `${dir} has neither tokenizer.json nor vocab.json + merges.txt`);
      for (const [layout, from] of layouts) {
        const tokenizer = await ClipTokenizer.load(from);
        for (let p = 0; p < prompts.length; p++) {
          const want = ids.subarray(p * cols, (p + 1) * cols);
          const got = (await tokenizer.encode(prompts[p] as string)).ids;
          ctx.check({
            name: `tokenizer (${layout}) prompt ${p} ${describePrompt(prompts[p] as string)}`,
            metric: 'differing ids',
            error: differingIds(got, want),
            bar: 0,
            note: got.length !== want.length ? `${got.length} ids for ${want.length}` : undefined,
          });
        }
      }
    } finally {
      if (slowDir) rmSync(slowDir, { recursive: true, force: true });
    }
  },
};

function describePrompt(prompt: string): string {
  const short = prompt.length > 28 ? `${prompt.slice(0, 27)}…` : prompt;
  return JSON.stringify(short);
}

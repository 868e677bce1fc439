import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipTokenizer } from '../../clip/tokenizer.js';
import { SafetensorsFile } from '../../runtime/safetensors-reader.js';
import { fromRoot } from '../../runtime/paths.js';

const tokenizerDir = fromRoot('tests', 'fixtures', 'tiny-sd', 'model', 'tokenizer');
const goldenDir = fromRoot('tests', 'fixtures', 'tiny-sd', 'golden');
const EOT = 49407;

interface Golden {
  prompts: string[];
  ids: Int32Array[];
}

async function loadGolden(): Promise<Golden> {
  const index = JSON.parse(readFileSync(join(goldenDir, 'index.json'), 'utf8')) as { tokenizer: { prompts: string[] } };
  const file = await SafetensorsFile.open(join(goldenDir, 'tokenizer.safetensors'));
  try {
    const [rows, cols] = file.entry('input_ids').shape as [number, number];
    const flat = await file.readInts('input_ids');
    const ids = Array.from({ length: rows }, (_, r) => Int32Array.from(flat.subarray(r * cols, (r + 1) * cols)));
    return { prompts: index.tokenizer.prompts, ids };
  } finally {
    await file.close();
  }
}

/** A tokenizer folder as SD 1.5 ships it: vocab.json + merges.txt, no tokenizer.json. */
function slowLayoutDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clip-tokenizer-'));
  for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json']) copyFileSync(join(tokenizerDir, f), join(dir, f));
  return dir;
}

/** "word0 … word99": "wordN" splits into "word" and one token per digit. */
const LONG_PROMPT_TOKENS = 10 * 2 + 90 * 3;

t.test('token ids match the golden CLIPTokenizer output', async (t) => {
  const golden = await loadGolden();
  t.equal(golden.prompts.length, 7);
  const slowDir = slowLayoutDir();
  t.teardown(() => rmSync(slowDir, { recursive: true, force: true }));
  const layouts: [string, string][] = [
    ['tokenizer.json', tokenizerDir],
    ['vocab.json + merges.txt', slowDir],
  ];
  for (const [layout, dir] of layouts) {
    const tok = await ClipTokenizer.load(dir);
    // The fixture's model_max_length is transformers' "unset" sentinel, so the CLIP default applies.
    t.equal(tok.maxLength, 77, `${layout}: maxLength`);
    t.same([tok.bosId, tok.eosId, tok.padId], [49406, EOT, EOT], `${layout}: BOS/EOS/pad ids`);
    for (let i = 0; i < golden.prompts.length; i++) {
      const prompt = golden.prompts[i]!;
      const got = await tok.encode(prompt);
      t.same(Array.from(got.ids), Array.from(golden.ids[i]!), `${layout}: ids of ${JSON.stringify(prompt.slice(0, 40))}`);
      const long = prompt.startsWith('word0 ');
      t.equal(got.truncated, long, `${layout}: truncated flag of prompt ${i}`);
      t.equal(got.droppedTokens, long ? LONG_PROMPT_TOKENS - 75 : 0, `${layout}: droppedTokens of prompt ${i}`);
    }
  }
});

t.test('truncation boundary: 75 prompt tokens fit, 76 drop one and keep EOS last', async (t) => {
  const tok = await ClipTokenizer.load(tokenizerDir);
  const fits = await tok.encode(Array(75).fill('a').join(' '));
  t.equal(fits.truncated, false);
  t.equal(fits.droppedTokens, 0);
  t.equal(fits.ids[0], tok.bosId);
  t.equal(fits.ids[75], 320, 'last prompt token is "a</w>"');
  t.equal(fits.ids[76], tok.eosId);

  const over = await tok.encode(Array(76).fill('a').join(' '));
  t.equal(over.truncated, true);
  t.equal(over.droppedTokens, 1);
  t.same(Array.from(over.ids), Array.from(fits.ids));
});

t.test('maxLength option and missing files', async (t) => {
  const tok = await ClipTokenizer.load(tokenizerDir, { maxLength: 8 });
  const got = await tok.encode('a photograph of an astronaut riding a horse');
  t.same(Array.from(got.ids), [49406, 320, 8853, 539, 550, 18376, 6765, EOT]);
  t.equal(got.droppedTokens, 2);
  const empty = mkdtempSync(join(tmpdir(), 'clip-tokenizer-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  await t.rejects(ClipTokenizer.load(empty), /neither tokenizer\.json nor vocab\.json/);
});

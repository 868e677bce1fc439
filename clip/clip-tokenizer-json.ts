/**
 * The tokenizer.json that transformers' CLIPConverter produces from a slow CLIPTokenizer's
 * vocab.json + merges.txt, for repositories (SD 1.5 among them) that ship no tokenizer.json.
 * Building the same JSON and handing it to the `tokenizers` package keeps one tokenization
 * code path for both layouts.
 */

export interface ClipSpecialTokens {
  readonly bos: string;
  readonly eos: string;
  readonly unk: string;
}

/**
 * CLIP's tokenizer reads only the first 49152 - 256 - 2 merges of its merges file (the original
 * OpenAI BPE file has more than the 49408-entry vocabulary uses); the same cap keeps a full-length
 * merges file consistent with the vocabulary.
 */
const CLIP_MERGE_COUNT = 49152 - 256 - 2;

/** Merge rules "a b" in priority order, without the "#version" header or blank lines. */
export function parseMerges(text: string): string[] {
  const merges: string[] = [];
  for (const line of text.split('\n')) {
    const rule = line.replace(/\r$/, '');
    if (rule === '' || rule.startsWith('#version')) continue;
    merges.push(rule);
    if (merges.length === CLIP_MERGE_COUNT) break;
  }
  return merges;
}

/** A tokenizer.json document equivalent to CLIPTokenizerFast's. */
export function clipTokenizerJson(
  vocab: Readonly<Record<string, number>>,
  merges: readonly string[],
  special: ClipSpecialTokens,
): string {
  const addedToken = (content: string) => {
    const id = vocab[content];
    if (id === undefined) throw new Error(`CLIP tokenizer: special token "${content}" is not in vocab.json`);
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  };
  const specialTokens = [...new Set([special.bos, special.eos])];
  const escapedSpecials = specialTokens.map((s) => s.replace(/[|\\{}()[\]^$+*?.]/g, '\\$&'));
  const splitPattern = [...escapedSpecials, "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"].join('|');
  const doc = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map(addedToken),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: splitPattern }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [special.eos, vocab[special.eos]],
      cls: [special.bos, vocab[special.bos]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: special.unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  return JSON.stringify(doc);
}

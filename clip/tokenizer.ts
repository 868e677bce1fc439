import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { clipTokenizerJson, parseMerges } from './clip-tokenizer-json.js';

export interface TokenizedPrompt {
  /** [BOS, tokens..., EOS, pad...], length maxLength. */
  ids: Int32Array;
  truncated: boolean;
  /** Prompt tokens dropped by truncation. */
  droppedTokens: number;
}

export interface ClipTokenizerOptions {
  /** Overrides tokenizer_config.json's model_max_length (e.g. the text encoder's max_position_embeddings). */
  maxLength?: number;
}

/** CLIP's context length, used when tokenizer_config.json gives none or transformers' "unset" sentinel. */
const CLIP_CONTEXT_LENGTH = 77;
/** transformers writes int(1e30) for "no limit"; anything this large is not a real context length. */
const MAX_PLAUSIBLE_LENGTH = 1_000_000;

interface TokenizerConfig {
  bos_token?: unknown;
  eos_token?: unknown;
  pad_token?: unknown;
  unk_token?: unknown;
  model_max_length?: unknown;
}

/** The CLIP BPE tokenizer of a Stable Diffusion `tokenizer/` folder, through the `tokenizers` package. */
export class ClipTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly maxLength: number,
    readonly bosId: number,
    readonly eosId: number,
    readonly padId: number,
  ) {}

  /**
   * Loads tokenizer.json when `dir` has one; otherwise builds the same tokenizer from vocab.json +
   * merges.txt (NFC, whitespace runs → one space, lowercase; CLIP's regex split then ByteLevel;
   * BPE with the "</w>" end-of-word suffix). Special tokens and maxLength come from
   * tokenizer_config.json (defaults: <|startoftext|>, <|endoftext|>, pad = EOS, 77).
   */
  static async load(dir: string, options: ClipTokenizerOptions = {}): Promise<ClipTokenizer> {
    const config = await readConfig(dir);
    const bos = tokenName(config.bos_token, '<|startoftext|>');
    const eos = tokenName(config.eos_token, '<|endoftext|>');
    const pad = tokenName(config.pad_token, eos);
    const unk = tokenName(config.unk_token, eos);

    let tokenizer: Tokenizer;
    const jsonPath = join(dir, 'tokenizer.json');
    if (existsSync(jsonPath)) {
      tokenizer = Tokenizer.fromFile(jsonPath);
    } else {
      const vocabPath = join(dir, 'vocab.json');
      const mergesPath = join(dir, 'merges.txt');
      if (!existsSync(vocabPath) || !existsSync(mergesPath)) {
        throw new Error(`ClipTokenizer: ${dir} has neither tokenizer.json nor vocab.json + merges.txt`);
      }
      const vocab = JSON.parse(await readFile(vocabPath, 'utf8')) as Record<string, number>;
      const merges = parseMerges(await readFile(mergesPath, 'utf8'));
      tokenizer = Tokenizer.fromString(clipTokenizerJson(vocab, merges, { bos, eos, unk }));
    }
    // encode() adds the specials, truncates and pads itself, so it can report what it dropped.
    tokenizer.disableTruncation();
    tokenizer.disablePadding();

    const idOf = (token: string, role: string): number => {
      const id = tokenizer.tokenToId(token);
      if (id === null) throw new Error(`ClipTokenizer: ${role} token "${token}" is not in the vocabulary of ${dir}`);
      return id;
    };
    const maxLength = options.maxLength ?? configuredMaxLength(config.model_max_length);
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new Error(`ClipTokenizer: maxLength must be an integer ≥ 2 (room for BOS and EOS), got ${maxLength}`);
    }
    return new ClipTokenizer(tokenizer, maxLength, idOf(bos, 'BOS'), idOf(eos, 'EOS'), idOf(pad, 'pad'));
  }

  /**
   * [BOS, tokens..., EOS] padded to maxLength with the pad token; a longer prompt keeps its first
   * maxLength - 2 tokens and still ends with EOS, as CLIPTokenizer(truncation=True) does.
   * Async because the `tokenizers` package only encodes asynchronously.
   */
  async encode(prompt: string): Promise<TokenizedPrompt> {
    const encoding = await this.tokenizer.encode(prompt, null, { addSpecialTokens: false });
    const tokens = encoding.getIds();
    const room = this.maxLength - 2;
    const kept = Math.min(tokens.length, room);
    const ids = new Int32Array(this.maxLength).fill(this.padId);
    ids[0] = this.bosId;
    for (let i = 0; i < kept; i++) ids[1 + i] = tokens[i]!;
    ids[1 + kept] = this.eosId;
    const droppedTokens = tokens.length - kept;
    return { ids, truncated: droppedTokens > 0, droppedTokens };
  }
}

async function readConfig(dir: string): Promise<TokenizerConfig> {
  const path = join(dir, 'tokenizer_config.json');
  if (!existsSync(path)) return {};
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`ClipTokenizer: ${path} is not a JSON object`);
  return parsed as TokenizerConfig;
}

/** Older configs store special tokens as serialized AddedToken objects ({ content: "..." }). */
function tokenName(value: unknown, fallback: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return fallback;
}

function configuredMaxLength(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 2 && value <= MAX_PLAUSIBLE_LENGTH) return value;
  return CLIP_CONTEXT_LENGTH;
}

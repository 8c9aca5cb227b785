/**
 * The CLIP text tokenizer of Stable Diffusion exports (`tokenizer/vocab.json` + `tokenizer/merges.txt`,
 * optionally `special_tokens_map.json` / `tokenizer_config.json`), producing the 77 ids the text encoder takes.
 *
 * Built on @huggingface/tokenizers (already a dependency): we assemble the same tokenizer.json that
 * Hugging Face's CLIPTokenizerFast converter writes — normalizer NFC → collapse whitespace → lowercase,
 * pre-tokenizer CLIP's regex split then byte-level mapping (no regex of its own), BPE with the `</w>`
 * end-of-word suffix, and a BOS…EOS post-processor — and let the library run it. Truncation and padding
 * are done here because the library has none: content is cut to 75 tokens so BOS and EOS always survive,
 * then padded with the export's pad token (SD 1.x: "<|endoftext|>" = EOS; SD 2.x: "!" = id 0).
 *
 * Not reproduced: the slow Python tokenizer's optional ftfy/html.unescape clean-up (the fast tokenizer,
 * which diffusers uses when available, does not do it either).
 */
import { Tokenizer } from '@huggingface/tokenizers';

/** CLIP's pre-tokenizer pattern (openai/CLIP simple_tokenizer.py, as HF's converter writes it). */
export const CLIP_PATTERN = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

export const CLIP_BOS = '<|startoftext|>';
export const CLIP_EOS = '<|endoftext|>';
/** The text encoder's position-embedding count (tokenizer_config model_max_length in every SD export). */
export const CLIP_MAX_LENGTH = 77;

export interface ClipTokenizerFiles {
  /** vocab.json, parsed or as text. */
  vocab: Record<string, number> | string;
  /** merges.txt as text (a "#version" header line is skipped). */
  merges: string;
  /** special_tokens_map.json, parsed or as text. */
  specialTokensMap?: Record<string, unknown> | string | null;
  /** tokenizer_config.json, parsed or as text. */
  tokenizerConfig?: Record<string, unknown> | string | null;
}

export interface ClipEncodeOptions {
  /** Total length including BOS/EOS; default the config's model_max_length (77). */
  maxLength?: number;
  /** Pad to maxLength (what SD pipelines do). Default true. */
  padding?: boolean;
  /** Cut content so BOS + content + EOS fits maxLength. Default true. */
  truncation?: boolean;
}

export interface ClipEncoding {
  ids: number[];
  /** 1 for real tokens (BOS, content, EOS), 0 for padding. */
  attentionMask: number[];
  /** True when content was cut to fit. */
  truncated: boolean;
}

export class ClipTokenizerError extends Error {
  readonly code = 'ClipTokenizerError';
  constructor(message: string) {
    super(message);
    this.name = 'ClipTokenizerError';
  }
}

function parseJson(what: string, v: Record<string, unknown> | string | null | undefined): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'string') return v;
  try {
    const parsed: unknown = JSON.parse(v);
    if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new ClipTokenizerError(`${what} is not a JSON object`);
}

/** A token entry of special_tokens_map / tokenizer_config: a string or {content: string, …}. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly padToken: string;
  readonly maxLength: number;
  private readonly tokenizer: Tokenizer;

  private constructor(tokenizer: Tokenizer, ids: { bos: number; eos: number; pad: number }, padToken: string, maxLength: number) {
    this.tokenizer = tokenizer;
    this.bosId = ids.bos;
    this.eosId = ids.eos;
    this.padId = ids.pad;
    this.padToken = padToken;
    this.maxLength = maxLength;
  }

  static fromFiles(files: ClipTokenizerFiles): ClipTokenizer {
    const vocab = parseJson('vocab.json', files.vocab) as Record<string, number>;
    const special = parseJson('special_tokens_map.json', files.specialTokensMap);
    const config = parseJson('tokenizer_config.json', files.tokenizerConfig);
    const merges = files.merges
      .split(/\r?\n/)
      .filter((line, i) => line.trim() !== '' && !(i === 0 && line.startsWith('#version')))
      .map((line) => {
        const parts = line.split(' ');
        if (parts.length !== 2) throw new ClipTokenizerError(`merges.txt: malformed line ${JSON.stringify(line)}`);
        return parts as [string, string];
      });

    const bos = tokenContent(special['bos_token']) ?? tokenContent(config['bos_token']) ?? CLIP_BOS;
    const eos = tokenContent(special['eos_token']) ?? tokenContent(config['eos_token']) ?? CLIP_EOS;
    const unk = tokenContent(special['unk_token']) ?? tokenContent(config['unk_token']) ?? CLIP_EOS;
    // SD 2.x exports pad with "!" (id 0); SD 1.x with <|endoftext|>. Absent both files, CLIP's default.
    const pad = tokenContent(special['pad_token']) ?? tokenContent(config['pad_token']) ?? CLIP_EOS;
    const idOf = (t: string, role: string): number => {
      const id = vocab[t];
      if (typeof id !== 'number') throw new ClipTokenizerError(`${role} token ${JSON.stringify(t)} is not in vocab.json`);
      return id;
    };
    const ids = { bos: idOf(bos, 'bos'), eos: idOf(eos, 'eos'), pad: idOf(pad, 'pad') };
    idOf(unk, 'unk');
    const mml = config['model_max_length'];
    // Some configs carry a huge sentinel (1e30) for "no limit"; the text encoder still has 77 positions.
    const maxLength = typeof mml === 'number' && mml >= 2 && mml <= CLIP_MAX_LENGTH ? mml : CLIP_MAX_LENGTH;

    const special_ = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
    const tokenizerJson = {
      added_tokens: [special_(bos, ids.bos), special_(eos, ids.eos)],
      normalizer: {
        type: 'Sequence',
        normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
      },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          // invert: keep the regex matches, drop what lies between them (whitespace).
          { type: 'Split', pattern: { Regex: CLIP_PATTERN }, behavior: 'Removed', invert: true },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      model: { type: 'BPE', dropout: null, unk_token: unk, continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, vocab, merges },
      post_processor: { type: 'RobertaProcessing', sep: [eos, ids.eos], cls: [bos, ids.bos], trim_offsets: false, add_prefix_space: false },
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    };
    const tokenizer = new Tokenizer(tokenizerJson, { model_max_length: maxLength, clean_up_tokenization_spaces: true });
    return new ClipTokenizer(tokenizer, ids, pad, maxLength);
  }

  /** BPE tokens of `text` without BOS/EOS (e.g. ["a</w>", "photo</w>"]). */
  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(text, { add_special_tokens: false });
  }

  /** Ids of `text` without BOS/EOS, no truncation. */
  encodeContent(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** BOS + content + EOS, truncated and padded as the SD pipelines do (`padding="max_length"`, `truncation=True`). */
  encode(text: string, options: ClipEncodeOptions = {}): ClipEncoding {
    const maxLength = options.maxLength ?? this.maxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new RangeError(`maxLength must be an integer >= 2, got ${maxLength}`);
    let content = this.encodeContent(text);
    let truncated = false;
    if ((options.truncation ?? true) && content.length > maxLength - 2) {
      content = content.slice(0, maxLength - 2);
      truncated = true;
    }
    const ids = [this.bosId, ...content, this.eosId];
    const attentionMask = ids.map(() => 1);
    if (options.padding ?? true) {
      while (ids.length < maxLength) {
        ids.push(this.padId);
        attentionMask.push(0);
      }
    }
    return { ids, attentionMask, truncated };
  }

  /**
   * Text of an encoding's content (between BOS and the first EOS; padding, which may be a real token such
   * as SD 2's "!", comes after EOS and is not decoded), for debugging and prompt-length feedback.
   */
  decode(ids: number[]): string {
    const start = ids[0] === this.bosId ? 1 : 0;
    const end = ids.indexOf(this.eosId, start);
    const content = ids.slice(start, end < 0 ? ids.length : end);
    return content.length ? this.tokenizer.decode(content, { skip_special_tokens: true }).trim() : '';
  }
}

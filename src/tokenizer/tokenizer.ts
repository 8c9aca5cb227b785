/**
 * createTokenizer: a llama.cpp-exact tokenizer from a GGUF file's `tokenizer.ggml.*` metadata.
 *
 * Written here rather than on @huggingface/tokenizers, which was evaluated first: given a tokenizer.json
 * built from the fixture's GGUF metadata it disagreed with llama.cpp on 4 of the 460 test strings (e.g.
 * "x\u0085'd": llama.cpp's whitespace set has U+0085, the JS `\s` it translates to does not; llama.cpp runs
 * hand-written scanners, not the regexes, see pretokenize.ts), and it cannot do three things llama.cpp does:
 * leave control-token text unparsed (parse_special = false, which user text needs) while still matching
 * user-defined tokens; promote tokens to control/end-of-generation by their text; and tokenize GGUF `llama`
 * vocabularies, which carry scores rather than merges (see spm.ts). Decoding follows llama.cpp's
 * token_to_piece/llama_detokenize rather than HF's decoders for the same reason.
 */
import { InvalidArgumentError } from '../errors';
import { BpeTokenizer } from './bpe';
import { type DecodeOptions, type StreamDecoder, Pieces, createStreamDecoder, decode } from './decode';
import type { Metadata } from './metadata';
import { LITERAL_MARK, partitionSpecial, protectLiteral } from './special';
import { SpmTokenizer } from './spm';
import { toWellFormed } from './unicode';
import { ATTR, type TokenizerModel, loadVocab } from './vocab';

export interface EncodeOptions {
  /** Prepend BOS. Default: the file's `tokenizer.ggml.add_bos_token` (llama.cpp's default when absent). */
  addBos?: boolean;
  /** Append EOS. Default: the file's `tokenizer.ggml.add_eos_token` (false when absent). */
  addEos?: boolean;
  /**
   * Turn control-token text such as `<|im_start|>` into its id. Default false, so text from users cannot
   * smuggle control tokens in; set it for the output of a chat template. User-defined tokens always match.
   */
  parseSpecial?: boolean;
}

export interface Tokenizer {
  /** `tokenizer.ggml.model`. */
  readonly model: TokenizerModel;
  /** `tokenizer.ggml.pre` (byte-level BPE only). */
  readonly pre: string | undefined;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** End-of-turn token (`<|eot_id|>`, `<|im_end|>`, …), from the file or recognised by text as llama.cpp does. */
  readonly eotId: number | undefined;
  readonly eomId: number | undefined;
  readonly unknownId: number | undefined;
  readonly paddingId: number | undefined;
  /** Whether encode adds BOS / EOS by default. */
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** Every token that ends generation (EOS, EOT, EOM and the others llama.cpp recognises), ascending. */
  readonly endOfGenerationIds: readonly number[];
  encode(text: string, opts?: EncodeOptions): number[];
  /**
   * `text` (a chat message's content) made safe to pass through a chat template whose output is encoded
   * with `parseSpecial`: control-token text in it stays text instead of becoming the control token.
   */
  protectLiteral(text: string): string;
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** A streaming decoder for generated tokens (its own state; create one per generation). */
  createStreamDecoder(opts?: Omit<DecodeOptions, 'cleanSpaces'>): StreamDecoder;
  isEndOfGeneration(id: number): boolean;
  /** Control or unknown token: not text, rendered only when asked. */
  isSpecial(id: number): boolean;
  /** The token as stored in the vocabulary (GPT-2 byte characters, `▁` for spaces). */
  tokenText(id: number): string;
  /** The id of a vocabulary entry, if any (e.g. `<|im_end|>`). */
  tokenId(text: string): number | undefined;
}

export function createTokenizer(metadata: Metadata): Tokenizer {
  const vocab = loadVocab(metadata);
  const pieces = new Pieces(vocab);
  const bpe = vocab.model === 'gpt2' ? new BpeTokenizer(vocab) : undefined;
  const spm = vocab.model === 'llama' ? new SpmTokenizer(vocab) : undefined;
  const endOfGenerationIds = [...vocab.eog].sort((a, b) => a - b);

  const encode = (text: string, opts: EncodeOptions = {}): number[] => {
    const out: number[] = [];
    if ((opts.addBos ?? vocab.addBos) && vocab.bos !== null) out.push(vocab.bos);
    const fragments = partitionSpecial(vocab, toWellFormed(text), opts.parseSpecial ?? false).map((f) =>
      typeof f === 'string' && f.includes(LITERAL_MARK) ? f.replaceAll(LITERAL_MARK, '') : f,
    );
    let prevSpecial = true; // SPM prefixes a space to the text at the start and after each special token
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        prevSpecial = true;
      } else if (bpe) {
        bpe.encode(f, out);
      } else {
        const prefixed = vocab.addSpacePrefix && prevSpecial ? ` ${f}` : f;
        spm!.encode(prefixed.replaceAll(' ', '\u2581'), out);
        prevSpecial = false;
      }
    }
    if ((opts.addEos ?? vocab.addEos) && vocab.eos !== null) out.push(vocab.eos);
    return out;
  };

  const checkId = (id: number) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab.tokens.length) {
      throw new InvalidArgumentError(`token id ${id} is outside the vocabulary (0..${vocab.tokens.length - 1})`);
    }
    return id;
  };

  return {
    model: vocab.model,
    pre: vocab.model === 'gpt2' ? (vocab.preName ?? 'default') : undefined,
    vocabSize: vocab.tokens.length,
    bosId: vocab.bos ?? undefined,
    eosId: vocab.eos ?? undefined,
    eotId: vocab.eot ?? undefined,
    eomId: vocab.eom ?? undefined,
    unknownId: vocab.unk ?? undefined,
    paddingId: vocab.pad ?? undefined,
    addBos: vocab.addBos,
    addEos: vocab.addEos,
    endOfGenerationIds,
    encode,
    protectLiteral: (text: string) => protectLiteral(vocab, text),
    decode: (ids, opts) => decode(vocab, pieces, ids.map(checkId), opts),
    createStreamDecoder: (opts) => {
      const inner = createStreamDecoder(vocab, pieces, opts);
      return { push: (id) => inner.push(checkId(id)), flush: () => inner.flush() };
    },
    isEndOfGeneration: (id) => vocab.eog.has(id),
    isSpecial: (id) => (vocab.attrs[checkId(id)]! & (ATTR.CONTROL | ATTR.UNKNOWN)) !== 0,
    tokenText: (id) => vocab.tokens[checkId(id)]!,
    tokenId: (text) => vocab.tokenToId.get(text),
  };
}

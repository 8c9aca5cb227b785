/**
 * Ids → text, as llama.cpp's `token_to_piece` and `llama_detokenize` do it, plus a streaming decoder.
 * Pieces are bytes: a byte-level token may hold part of a UTF-8 character, so text is only made from the
 * concatenated bytes (or, when streaming, from the complete characters so far).
 */
import { InvalidArgumentError } from '../errors';
import { UNICODE_TO_BYTE, utf8Encoder } from './unicode';
import { ATTR, type Vocab } from './vocab';

export interface DecodeOptions {
  /** Render control and unknown tokens (`<|im_end|>`, `<s>`, …) as nothing. Default false: render their text. */
  skipSpecial?: boolean;
  /**
   * Drop one leading space from the first token, undoing the space SentencePiece-style tokenizers prefix to
   * text. Default: the file's add_space_prefix (true for `llama` vocabularies), as llama_detokenize does.
   * Pass false when decoding a continuation (generated tokens after a prompt).
   */
  stripLeadingSpace?: boolean;
  /**
   * Apply llama_detokenize's clean-up of spaces before punctuation and contractions (" ," → ",", " 's" →
   * "'s") where the vocabulary enables it (byte-level BPE files, except the pre-tokenizers llama.cpp exempts).
   * Lossy, so off by default; not available when streaming.
   */
  cleanSpaces?: boolean;
}

const SPACE = 0x20;
const EMPTY = new Uint8Array(0);

/** Bytes of each token, computed on first use (llama.cpp caches them all at load). */
export class Pieces {
  private readonly cache: (Uint8Array | undefined)[];

  constructor(private readonly vocab: Vocab) {
    this.cache = new Array<Uint8Array | undefined>(vocab.tokens.length);
  }

  /** llama.cpp `token_to_piece(token, special)` without lstrip. */
  get(id: number, special: boolean): Uint8Array {
    const attr = this.vocab.attrs[id];
    if (attr === undefined) throw new InvalidArgumentError(`token id ${id} is outside the vocabulary (0..${this.vocab.tokens.length - 1})`);
    if (!special && attr & (ATTR.UNKNOWN | ATTR.CONTROL)) return EMPTY;
    return (this.cache[id] ??= this.compute(id, attr));
  }

  private compute(id: number, attr: number): Uint8Array {
    const text = this.vocab.tokens[id]!;
    if (attr & (ATTR.UNKNOWN | ATTR.CONTROL | ATTR.USER_DEFINED)) return utf8Encoder.encode(text);
    if (attr & ATTR.NORMAL) return this.vocab.model === 'llama' ? utf8Encoder.encode(text.replaceAll('\u2581', ' ')) : byteDecode(text);
    if (attr & ATTR.BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16));
    return EMPTY; // undefined and unused tokens render as nothing
  }
}

/** llama.cpp `llama_decode_text`: GPT-2 byte characters → bytes; others become an [UNK_BYTE_…] marker. */
function byteDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const b = UNICODE_TO_BYTE.get(ch.codePointAt(0)!);
    if (b !== undefined) {
      out.push(b);
      continue;
    }
    const hex = Array.from(utf8Encoder.encode(ch), (x) => x.toString(16).padStart(2, '0')).join('');
    out.push(...utf8Encoder.encode(`[UNK_BYTE_0x${hex}${text}]`));
  }
  return Uint8Array.from(out);
}

/** One piece as decode uses it: the first may lose a leading space. */
function piece(pieces: Pieces, id: number, special: boolean, strip: boolean): Uint8Array {
  const p = pieces.get(id, special);
  return strip && p.length > 0 && p[0] === SPACE ? p.subarray(1) : p;
}

export function decode(vocab: Vocab, pieces: Pieces, ids: readonly number[], opts: DecodeOptions = {}): string {
  const special = !opts.skipSpecial;
  const strip = opts.stripLeadingSpace ?? vocab.addSpacePrefix;
  const parts = ids.map((id, i) => piece(pieces, id, special, strip && i === 0));
  let bytes: Uint8Array = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  if (opts.cleanSpaces && vocab.cleanSpaces) bytes = cleanSpaces(bytes);
  // ignoreBOM: a leading U+FEFF is text here (TextDecoder would drop it by default).
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}

/**
 * llama_detokenize's clean_spaces passes, ported literally (they edit the buffer in place and read bytes
 * they may already have overwritten, which this keeps).
 */
function cleanSpaces(text: Uint8Array): Uint8Array {
  const t = text.slice();
  const c = (s: string) => s.charCodeAt(0);
  // " ?", " !", " .", " ," lose the space
  const total1 = t.length;
  let total = total1 ? 1 : 0;
  for (let i = 1; i < total1; i++) {
    const x = t[i]!;
    if (t[i - 1] === SPACE && (x === c('?') || x === c('!') || x === c('.') || x === c(','))) total--;
    t[total++] = x;
  }
  // " ' " loses both spaces
  const total2 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total2; i++) {
    const x = t[i]!;
    if (x === c("'") && i + 1 < total2 && t[i - 1] === SPACE && t[i + 1] === SPACE) {
      total--;
      t[++i] = 0;
    }
    t[total++] = x;
  }
  // " 's", " 'm", " 're", " 've" lose the space
  const total3 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total3; i++) {
    const x = t[i]!;
    if (t[i - 1] === SPACE && x === c("'") && i + 1 < total3) {
      const x1 = t[i + 1]!;
      if (x1 === c('s') || x1 === c('m')) total--;
      else if (i + 2 < total3) {
        const x2 = t[i + 2]!;
        if ((x1 === c('r') && x2 === c('e')) || (x1 === c('v') && x2 === c('e'))) total--;
      }
    }
    t[total++] = x;
  }
  return t.subarray(0, total);
}

export interface StreamDecoder {
  /** Text completed by this token: never a partial UTF-8 character (incomplete bytes are held back). */
  push(id: number): string;
  /** Whatever is held back (an incomplete character becomes U+FFFD); the decoder can then be reused. */
  flush(): string;
}

/** Streaming decode: the concatenation of push() results and flush() equals decode() of all ids. */
export function createStreamDecoder(vocab: Vocab, pieces: Pieces, opts: Omit<DecodeOptions, 'cleanSpaces'> = {}): StreamDecoder {
  const special = !opts.skipSpecial;
  const strip = opts.stripLeadingSpace ?? vocab.addSpacePrefix;
  // TextDecoder's stream mode holds back an incomplete UTF-8 sequence until the bytes that complete it arrive.
  // ignoreBOM: a U+FEFF the model writes is text, not a byte-order mark to drop.
  const newDecoder = () => new TextDecoder('utf-8', { ignoreBOM: true });
  let utf8 = newDecoder();
  let first = true;
  return {
    push(id) {
      const p = piece(pieces, id, special, strip && first);
      first = false;
      return utf8.decode(p, { stream: true });
    },
    flush() {
      const rest = utf8.decode();
      utf8 = newDecoder();
      first = true;
      return rest;
    },
  };
}

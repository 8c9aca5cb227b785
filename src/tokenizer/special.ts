/**
 * Special-token partition, a port of llama.cpp's `tokenizer_st_partition`: before tokenizing, occurrences of
 * special-token texts in the raw text become their ids and are never split. Control and unknown tokens are
 * matched only when parsing special tokens (chat templates produce them; user text must not be able to);
 * user-defined tokens are always matched, as Hugging Face tokenizers do with added tokens.
 */
import { ATTR, type Vocab } from './vocab';

/** A piece of text still to tokenize, or a token id already decided. */
export type Fragment = string | number;

// C isspace() in the "C" locale, which llama.cpp uses for lstrip/rstrip.
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';

/**
 * Inserted between the characters of control-token text found in message content, so the chat template's
 * output can be tokenized with special tokens parsed (the template's own `<|im_start|>` must become its id)
 * while the same text typed by a user stays text. U+FDD0 is a Unicode noncharacter ("for internal use"),
 * never part of real text; encode removes every one after the special-token partition.
 */
export const LITERAL_MARK = '\uFDD0';

/** `text` with every control or unknown token's text broken up by LITERAL_MARK (see above). */
export function protectLiteral(vocab: Vocab, text: string): string {
  let out = text;
  for (const id of vocab.specialTokens) {
    const attr = vocab.attrs[id]!;
    const needle = vocab.tokens[id]!;
    if (!(attr & (ATTR.CONTROL | ATTR.UNKNOWN)) || needle.length < 2 || !out.includes(needle)) continue;
    out = out.replaceAll(needle, [...needle].join(LITERAL_MARK));
  }
  return out;
}

export function partitionSpecial(vocab: Vocab, text: string, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text === '' ? [] : [text];
  for (const id of vocab.specialTokens) {
    const attr = vocab.attrs[id]!;
    if (!parseSpecial && attr & (ATTR.CONTROL | ATTR.UNKNOWN)) continue;
    const needle = vocab.tokens[id]!;
    const out: Fragment[] = [];
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        continue;
      }
      let from = 0;
      for (;;) {
        const at = f.indexOf(needle, from);
        if (at < 0) break;
        let leftEnd = at;
        if (attr & ATTR.LSTRIP) while (leftEnd > from && isSpace(f[leftEnd - 1]!)) leftEnd--;
        if (leftEnd > from) out.push(f.slice(from, leftEnd));
        out.push(id);
        from = at + needle.length;
        if (attr & ATTR.RSTRIP) while (from < f.length && isSpace(f[from]!)) from++;
      }
      if (from < f.length) out.push(from === 0 ? f : f.slice(from));
    }
    fragments = out;
  }
  return fragments;
}

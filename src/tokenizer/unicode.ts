/**
 * Code-point classification, GPT-2's byte↔unicode table and UTF-8 helpers, as llama.cpp's `src/unicode.cpp`
 * defines them (that file is our reference for tokenization).
 *
 * Categories come from the JS engine's Unicode tables (`\p{…}` with the `u` flag), the only source a browser
 * has without shipping a table. llama.cpp ships its own table (src/unicode-data.cpp) from an older Unicode
 * version. Compared over all code points, the one bundled with node-llama-cpp 3.22.1 and Node 20's Unicode 17
 * tables agree on every code point that table assigns; they differ only on ~10k code points assigned by newer
 * Unicode versions (e.g. U+088F), which llama.cpp treats as unassigned, so text containing those can
 * pre-tokenize differently.
 */

/** Bit flags of llama.cpp's `unicode_cpt_flags` (only the ones the splitters read). */
export const CPT = {
  UNDEFINED: 0x0001,
  NUMBER: 0x0002,
  LETTER: 0x0004,
  SEPARATOR: 0x0008,
  MARK: 0x0010,
  PUNCTUATION: 0x0020,
  SYMBOL: 0x0040,
  CONTROL: 0x0080,
  WHITESPACE: 0x0100,
} as const;

/**
 * llama.cpp's whitespace set (`unicode_set_whitespace`, the Unicode White_Space property). It differs from
 * JS `\s`: it includes U+0085 and excludes U+FEFF, so `\s` is never used for splitting.
 */
const WHITESPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
  0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

// One regex, one group per category, in the order llama.cpp's gen-unicode-data.py maps general categories
// (Cn → undefined; Cc, Cf, Co, Cs → control).
const CATEGORY = /^(?:(\p{L})|(\p{N})|(\p{M})|(\p{P})|(\p{S})|(\p{Z})|(\p{Cn})|(\p{C}))$/u;
const CATEGORY_FLAGS = [CPT.LETTER, CPT.NUMBER, CPT.MARK, CPT.PUNCTUATION, CPT.SYMBOL, CPT.SEPARATOR, CPT.UNDEFINED, CPT.CONTROL];

function classify(cp: number): number {
  let flags: number = CPT.UNDEFINED;
  const m = CATEGORY.exec(String.fromCodePoint(cp));
  if (m) {
    for (let g = 1; g <= CATEGORY_FLAGS.length; g++) {
      if (m[g] !== undefined) {
        flags = CATEGORY_FLAGS[g - 1]!;
        break;
      }
    }
  }
  return WHITESPACE.has(cp) ? flags | CPT.WHITESPACE : flags;
}

// Lazily filled caches: a regex per code point is slow, and text reuses few distinct code points.
// 0 means "not computed yet" (every real code point has at least one category bit).
const bmp = new Uint16Array(0x10000);
const astral = new Map<number, number>();

/** llama.cpp's `unicode_cpt_flags_from_cpt`. */
export function cptFlags(cp: number): number {
  if (cp < 0x10000) {
    let f = bmp[cp]!;
    if (f === 0) bmp[cp] = f = classify(cp);
    return f;
  }
  let f = astral.get(cp);
  if (f === undefined) astral.set(cp, (f = classify(cp)));
  return f;
}

/** Code points of a string (after toWellFormed, so no lone surrogates). */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0)!);
  return out;
}

/**
 * Replaces lone surrogates with U+FFFD. llama.cpp tokenizes UTF-8 bytes, and a JS string reaches it (through
 * node-llama-cpp or any UTF-8 encoder) with lone surrogates already turned into U+FFFD; doing the same here
 * keeps byte-level tokenization identical.
 */
export function toWellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export const utf8Encoder = new TextEncoder();

/** UTF-8 length in bytes of a well-formed string. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * GPT-2's bytes_to_unicode (llama.cpp `unicode_byte_to_utf8_map`): printable Latin-1 bytes map to
 * themselves, the other 68 to U+0100 onwards, so every byte is one visible character in the vocabulary.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const table: string[] = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return table;
})();

/** The inverse of BYTE_TO_UNICODE, keyed by code point. */
export const UNICODE_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_UNICODE.map((ch, b) => [ch.codePointAt(0)!, b]));

/** A string's UTF-8 bytes, each written as its GPT-2 byte character. */
export function byteEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      // Non-ASCII: encode the whole string (most words are ASCII and skip the encoder).
      out = '';
      for (const b of utf8Encoder.encode(text)) out += BYTE_TO_UNICODE[b]!;
      return out;
    }
    out += BYTE_TO_UNICODE[c]!;
  }
  return out;
}

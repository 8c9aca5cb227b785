/**
 * Pre-tokenizers for byte-level BPE: split text into words before merges, as llama.cpp does for each
 * `tokenizer.ggml.pre` value (`llama_vocab::impl::load` and `llm_tokenizer_bpe` in src/llama-vocab.cpp).
 *
 * llama.cpp does not run the tokenizer.json regexes for the common pre-tokenizers: it runs hand-written
 * scanners (`unicode_regex_split_custom_gpt2/llama3/qwen2` in src/unicode.cpp) with its own whitespace set,
 * and runs the remaining patterns with std::regex over a "collapsed" text. The scanners below are line-by-line
 * ports of those functions, so that ids equal llama.cpp's even where a JS regex would split differently
 * (e.g. U+0085 and U+FEFF: JS `\s` includes U+FEFF and not U+0085, llama.cpp the other way round).
 */
import { CPT, codePoints, cptFlags } from './unicode';

/** Splits one piece of text into smaller pieces (their concatenation is the input). */
export type Splitter = (text: string) => string[];

export interface PreTokenizer {
  /** Applied in order, each to every piece the previous one produced (llama.cpp `unicode_regex_split`). */
  readonly splitters: readonly Splitter[];
  /** A whole word that is itself a token is emitted without merging (Llama 3). */
  readonly ignoreMerges: boolean;
  /** llama_detokenize's clean_spaces flag (used only by decode's cleanSpaces option). */
  readonly cleanSpaces: boolean;
  /** add_bos default before the file's `tokenizer.ggml.add_bos_token` overrides it. */
  readonly addBos: boolean;
}

const OUT = -1;
const WLN = CPT.WHITESPACE | CPT.LETTER | CPT.NUMBER;

/** Shared scaffolding of llama.cpp's custom splitters: positions are code-point indexes. */
function scanner(text: string) {
  const cpts = codePoints(text);
  const n = cpts.length;
  // UTF-16 offset of each code point, to slice the original string instead of rebuilding pieces.
  const offs = new Array<number>(n + 1);
  offs[0] = 0;
  for (let i = 0; i < n; i++) offs[i + 1] = offs[i]! + (cpts[i]! > 0xffff ? 2 : 1);
  const out: string[] = [];
  let prevEnd = 0;
  return {
    n,
    out,
    cpt: (p: number) => (p < n ? cpts[p]! : OUT),
    flags: (p: number) => (p < n ? cptFlags(cpts[p]!) : 0),
    /** Ends the current word at `end`; returns its length (llama.cpp `_add_token`). */
    add(end: number): number {
      const len = end - prevEnd;
      if (len > 0) out.push(text.slice(offs[prevEnd], offs[end]));
      prevEnd = end;
      return len;
    },
  };
}

const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c); // only ASCII results are compared

/** `'s|'t|'re|'ve|'m|'ll|'d`, case-insensitive or not: the length matched at pos (0 if none). */
function contraction(s: ReturnType<typeof scanner>, pos: number, fold: boolean): number {
  if (s.cpt(pos) !== 0x27 || pos + 1 >= s.n) return 0;
  const f = fold ? lower : (c: number) => c;
  const a = f(s.cpt(pos + 1));
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 < s.n) {
    const b = f(s.cpt(pos + 2));
    if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  }
  return 0;
}

/** GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (unicode_regex_split_custom_gpt2). */
export const splitGpt2: Splitter = (text) => {
  const s = scanner(text);
  for (let pos = 0; pos < s.n; ) {
    const cpt = s.cpt(pos);
    const flags = s.flags(pos);
    const c = contraction(s, pos, false);
    if (c) {
      pos += s.add(pos + c);
      continue;
    }
    const space = cpt === 0x20 ? 1 : 0;
    let flags2 = space ? s.flags(pos + 1) : flags;
    if (flags2 & CPT.LETTER) {
      pos += space;
      while (flags2 & CPT.LETTER) flags2 = s.flags(++pos);
      s.add(pos);
      continue;
    }
    if (flags2 & CPT.NUMBER) {
      pos += space;
      while (flags2 & CPT.NUMBER) flags2 = s.flags(++pos);
      s.add(pos);
      continue;
    }
    if (!(flags2 & WLN) && flags2) {
      pos += space;
      while (!(flags2 & WLN) && flags2) flags2 = s.flags(++pos);
      s.add(pos);
      continue;
    }
    let nws = 0;
    while (s.flags(pos + nws) & CPT.WHITESPACE) nws++;
    if (nws > 1 && s.cpt(pos + nws) !== OUT) {
      pos += nws - 1;
      s.add(pos);
      continue;
    }
    if (nws > 0) {
      pos += nws;
      s.add(pos);
      continue;
    }
    s.add(++pos);
  }
  return s.out;
};

/**
 * Llama 3 (`maxDigits` 3) and Qwen2 (`maxDigits` 1):
 * `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
 * (unicode_regex_split_custom_llama3 / _qwen2, which differ only in the digit rule).
 */
function splitLlama3Like(maxDigits: number): Splitter {
  return (text) => {
    const s = scanner(text);
    const isRN = (c: number) => c === 0x0d || c === 0x0a;
    for (let pos = 0; pos < s.n; ) {
      const cpt = s.cpt(pos);
      const flags = s.flags(pos);
      const c = contraction(s, pos, true);
      if (c) {
        pos += s.add(pos + c);
        continue;
      }
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (!(isRN(cpt) || flags & CPT.NUMBER) && (flags & CPT.LETTER || s.flags(pos + 1) & CPT.LETTER)) {
        pos++;
        while (s.flags(pos) & CPT.LETTER) pos++;
        s.add(pos);
        continue;
      }
      // \p{N}{1,maxDigits}
      if (flags & CPT.NUMBER) {
        let ini = pos;
        while (s.flags(pos) & CPT.NUMBER) {
          if (++pos - ini >= maxDigits) {
            s.add(pos);
            ini = pos;
          }
        }
        s.add(pos);
        continue;
      }
      // <space>?[^\s\p{L}\p{N}]+[\r\n]*  (llama.cpp tests `flags`, not `flags2`, for the first condition)
      let flags2 = cpt === 0x20 ? s.flags(pos + 1) : flags;
      if (!(flags2 & WLN) && flags) {
        pos += cpt === 0x20 ? 1 : 0;
        while (!(flags2 & WLN) && flags2) flags2 = s.flags(++pos);
        let cpt2 = s.cpt(pos);
        while (isRN(cpt2)) cpt2 = s.cpt(++pos);
        s.add(pos);
        continue;
      }
      let nws = 0;
      let lastEndRN = -1;
      while (s.flags(pos + nws) & CPT.WHITESPACE) {
        if (isRN(s.cpt(pos + nws))) lastEndRN = pos + nws + 1;
        nws++;
      }
      // \s*[\r\n]+
      if (lastEndRN >= 0) {
        pos = lastEndRN;
        s.add(pos);
        continue;
      }
      // \s+(?!\S)
      if (nws > 1 && s.cpt(pos + nws) !== OUT) {
        pos += nws - 1;
        s.add(pos);
        continue;
      }
      if (nws > 0) {
        pos += nws;
        s.add(pos);
        continue;
      }
      s.add(++pos);
    }
    return s.out;
  };
}

export const splitLlama3 = splitLlama3Like(3);
export const splitQwen2 = splitLlama3Like(1);

/**
 * A pattern llama.cpp runs with std::regex (`unicode_regex_split_stl`): matches and the text between them
 * both become pieces. Only used with patterns whose JS form means the same as llama.cpp's collapsed-text
 * form: `\p{…}` classes (no `\s`, whose sets differ) and ASCII ranges.
 */
function regexSplitter(pattern: RegExp): Splitter {
  const re = new RegExp(pattern.source, 'gu');
  return (text) => {
    const out: string[] = [];
    let last = 0;
    for (const m of text.matchAll(re)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(m[0]);
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  };
}

/** Pieces of `text` after each splitter in turn. */
export function preTokenize(pre: PreTokenizer, text: string): string[] {
  let pieces = [text];
  for (const split of pre.splitters) pieces = pieces.flatMap(split);
  return pieces;
}

// The pattern lists of llm_tokenizer_bpe's constructor, for the pre-tokenizer types supported here.
const GPT2 = [splitGpt2];
const LLAMA3 = [splitLlama3];
const QWEN2 = [splitQwen2];
/** LLAMA_VOCAB_PRE_TYPE_DEFAULT: `[\p{P}\$\+<=>\^~\|]+`, GPT-2, `\p{N}+`, `[0-9][0-9][0-9]`. */
const DEFAULT = [regexSplitter(/[\p{P}$+<=>^~|]+/u), splitGpt2, regexSplitter(/\p{N}+/u), regexSplitter(/[0-9][0-9][0-9]/u)];
/** STARCODER family (also SmolLM, Command-R, …): each digit alone, then GPT-2. */
const STARCODER = [regexSplitter(/\p{N}/u), splitGpt2];

type Spec = [splitters: Splitter[], flags?: { ignoreMerges?: boolean; cleanSpaces?: boolean; addBos?: boolean }];

/**
 * `tokenizer.ggml.pre` values → pre-tokenizer, with the flags llama.cpp sets for each (BPE files start with
 * clean_spaces = true, add_bos = false). Names missing here are refused: llama.cpp itself refuses unknown
 * names ("unknown pre-tokenizer type"), and a known-to-llama.cpp name we do not implement would otherwise
 * tokenize silently wrong.
 */
const PRE_TOKENIZERS: Record<string, Spec> = {
  default: [DEFAULT],
  'gpt-2': [GPT2],
  'phi-2': [GPT2],
  mpt: [GPT2],
  olmo: [GPT2],
  jais: [GPT2],
  gigachat: [GPT2],
  'a.x-4.0': [GPT2],
  mellum: [GPT2],
  exaone4: [GPT2],
  trillion: [GPT2, { cleanSpaces: false }],
  'granite-docling': [GPT2, { cleanSpaces: false }],
  llama3: [LLAMA3, { ignoreMerges: true, addBos: true }],
  'llama-v3': [LLAMA3, { ignoreMerges: true, addBos: true }],
  'llama-bpe': [LLAMA3, { ignoreMerges: true, addBos: true }],
  falcon3: [LLAMA3, { ignoreMerges: true, addBos: true }],
  'falcon-h1': [LLAMA3, { ignoreMerges: true, addBos: true }],
  pixtral: [LLAMA3, { ignoreMerges: true, addBos: true }],
  'midm-2.0': [LLAMA3, { ignoreMerges: true, addBos: true }],
  lfm2: [LLAMA3, { ignoreMerges: true, addBos: true }],
  dbrx: [LLAMA3],
  'smaug-bpe': [LLAMA3],
  qwen2: [QWEN2, { cleanSpaces: false }],
  'deepseek-r1-qwen': [QWEN2, { cleanSpaces: false }],
  megrez: [QWEN2],
  stablelm2: [QWEN2],
  hunyuan: [QWEN2, { cleanSpaces: false }],
  starcoder: [STARCODER],
  refact: [STARCODER],
  'command-r': [STARCODER, { cleanSpaces: false }],
  smollm: [STARCODER, { cleanSpaces: false }],
  codeshell: [STARCODER],
  exaone: [STARCODER],
  'minerva-7b': [STARCODER],
};

export const KNOWN_PRE_TOKENIZERS: readonly string[] = Object.keys(PRE_TOKENIZERS);

/** The pre-tokenizer for a `tokenizer.ggml.pre` value (undefined → llama.cpp's 'default'); undefined if unknown. */
export function preTokenizerFor(name: string | undefined): PreTokenizer | undefined {
  const key = name || 'default'; // llama.cpp: a missing or empty name means 'default' (with a warning)
  if (!Object.hasOwn(PRE_TOKENIZERS, key)) return undefined;
  const spec = PRE_TOKENIZERS[key]!;
  const [splitters, f = {}] = spec;
  return { splitters, ignoreMerges: f.ignoreMerges ?? false, cleanSpaces: f.cleanSpaces ?? true, addBos: f.addBos ?? false };
}

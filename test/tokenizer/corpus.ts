/**
 * Awkward text for tokenizer tests: every case where pre-tokenizers, byte fallback or special-token parsing
 * can go wrong, plus seeded random strings built from the same hard pieces.
 */
import { rng } from '../random';

export const CORPUS: readonly string[] = [
  '',
  ' ',
  '  ',
  '\n',
  'Hello world',
  'Hello, world! How are you?',
  // contractions, upper case too (Llama 3 and Qwen2 fold case, GPT-2 does not)
  "don't I'M they'll we've she'd you're it's",
  "DON'T THEY'LL WE'VE SHE'D YOU'RE IT'S 'S 'T",
  "rock 'n' roll, ' quoted ', 'tis",
  // whitespace runs
  'a  b   c    d',
  'tabs\t\tand\ttabs',
  'lines\n\nand\n\n\nmore\r\nlines\r\r\n',
  '   leading spaces',
  'trailing spaces   ',
  ' \n \n  \t x',
  'x \t\n',
  '\n\n\n',
  // Unicode whitespace: llama.cpp's set has U+0085 but not U+FEFF (JS \s is the other way round)
  'nbsp\u00a0here \u00a0 and\u2009thin\u3000ideographic',
  'next\u0085line and\u2028sep\u2029para',
  'zero\ufeffwidth\u200bspace',
  // digits
  '0',
  '12345678901234567890',
  '3.14159 2,718 1e-10 -42 +7 ¹²³ ½ ٣٤٥ ๔๕',
  'Year 2024, room 101, call 555-0199.',
  // emoji: ZWJ families, skin tones, flags, keycaps, variation selectors
  '👩‍👩‍👧‍👦 family',
  '👍🏽👍🏿 thumbs',
  '🇫🇷🇯🇵 flags',
  '1️⃣ #️⃣ ❤️ ☺︎',
  '🧑🏻‍💻 coding 🏳️‍🌈',
  // accents and combining marks
  'café naïve résumé Ångström',
  'cafe\u0301 nai\u0308ve e\u0301\u0301\u0301',
  'Zalgo: Z̷̨̛̖a̵̢͎l̴̰̈́g̶̱̈o̸̝͘',
  // scripts
  '日本語のテキストです。東京タワー',
  '中文文本，包括标点符号！',
  '한국어 텍스트',
  'مرحبا بالعالم، كيف حالك؟',
  'שלום עולם',
  'Привет, мир! Ёжик.',
  'Ελληνικά κείμενα',
  'हिन्दी पाठ',
  'ภาษาไทย',
  // code and URLs
  'function f(x) { return x * 2; } // done',
  'if (a != b && c <= d) {\n\treturn [1, 2, 3];\n}',
  'def main():\n    print("hi")\n    return 0\n',
  'https://example.com/path?q=1&r=two#frag',
  'user@example.com <mailto:user@example.com>',
  '$HOME/.config ~/bin ^_^ |pipe| `tick` <=> +=',
  '...!!!???---___***',
  // special-token text (parsed only with parseSpecial, except user-defined tokens)
  '<|endoftext|>',
  'before<|endoftext|>after',
  '<|endoftext|><|endoftext|>',
  ' <|endoftext|> spaced ',
  '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<s>[INST] Hi [/INST] Hello</s>',
  'use <tool_call> here<tool_call>',
  '<|endoftext',
  '<0x0A> <0xFF> <unk>',
  // lone surrogates (become U+FFFD, as on the way into llama.cpp)
  'bad \ud800 surrogate \udc00 here',
  // a fortune-like sentence
  'You will be successful in your work. -- Anonymous',
];

/** Pieces random strings are built from: each is a hard case for some tokenizer. */
const PIECES = [
  ' ', '  ', '\t', '\n', '\r', '\r\n', '\u00a0', '\u0085', '\ufeff', '\u3000', '\u2028',
  "'s", "'S", "'ll", "'LL", "'re", "'ve", "'d", "'m", "'t", "'",
  'a', 'the', 'The', 'fox', 'ing', 'ed', 'world', 'X',
  '0', '7', '42', '12345', '²', '½',
  '.', ',', '!', '?', '-', '--', '...', '(', ')', '<', '>', '|', '$', '+', '^', '~', '`', '@',
  'é', 'e\u0301', 'ñ', 'ß', 'ı', 'İ', 'Ω',
  '日本', '中', '한', 'م', 'ב', 'ж', 'ह', 'ไ',
  '😀', '👍🏽', '👩‍👧', '🇯🇵', '❤️', '\u200d',
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|eot_id|>', '<tool_call>', '<s>', '</s>', '<|', '|>',
];

/** `n` seeded random strings of 1–12 pieces. */
export function randomStrings(n: number, seed: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const k = 1 + Math.floor(r() * 12);
    for (let j = 0; j < k; j++) s += PIECES[Math.floor(r() * PIECES.length)];
    out.push(s);
  }
  return out;
}

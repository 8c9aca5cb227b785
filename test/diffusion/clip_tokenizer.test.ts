/**
 * CLIP tokenizer on a synthetic vocabulary built here. Expected ids come from hand-worked cases and from
 * an independent straightforward reference written from openai/CLIP's simple_tokenizer.py (lower-case,
 * collapse whitespace, regex findall, bytes → unicode, naive lowest-rank-first BPE with "</w>").
 */
import { describe, expect, it } from 'vitest';
import { CLIP_PATTERN, ClipTokenizer } from '../../src/diffusion/clip_tokenizer';

/** GPT-2/CLIP bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
function bytesToUnicode(): string[] {
  const map: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return map;
}
const B2U = bytesToUnicode();
const enc = (s: string) => Array.from(new TextEncoder().encode(s), (b) => B2U[b]!).join('');

/** Merges of the synthetic vocab (rank = position), in byte-level characters. */
const MERGES: [string, string][] = [
  ['h', 'e'], ['he', 'l'], ['hel', 'l'], ['hell', 'o</w>'], // hello</w>
  ['p', 'h'], ['ph', 'o'], ['pho', 't'], ['phot', 'o</w>'], // photo</w>
  ['a', 't</w>'], ['c', 'at</w>'], // cat</w>
  ["'", 's</w>'], // 's</w>
  ['!', '!</w>'], // !!</w>
  [enc('é')[0]!, enc('é')[1]! + '</w>'], // é</w> as bytes C3 A9
  ['c', 'a'], ['ca', 'f'], ['caf', enc('é') + '</w>'], // café</w>
  ['o', 'n'], ['on', 'e</w>'], // one</w>
  ['d', 'o'], ['do', 'n'], // don
];

function buildVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  let id = 0;
  // CLIP's order: the printable bytes' characters first (so "!" is id 0, as in the real vocab), then the rest.
  const order = [...B2U].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  for (const c of order) vocab[c] = id++;
  for (const c of order) vocab[c + '</w>'] = id++;
  for (const [a, b] of MERGES) vocab[a + b] ??= id++;
  vocab['<|startoftext|>'] = id++;
  vocab['<|endoftext|>'] = id++;
  return vocab;
}
const VOCAB = buildVocab();
const BOS = VOCAB['<|startoftext|>']!;
const EOS = VOCAB['<|endoftext|>']!;
const MERGES_TXT = '#version: 0.2\n' + MERGES.map((m) => m.join(' ')).join('\n') + '\n';

/** The straightforward reference: simple_tokenizer.py's algorithm, one merge pair at a time. */
function refEncode(text: string): number[] {
  const ranks = new Map(MERGES.map((m, i) => [m.join(' '), i]));
  const clean = text.normalize('NFC').replace(/\s+/gu, ' ').trim().toLowerCase();
  const ids: number[] = [];
  for (const m of clean.matchAll(new RegExp(CLIP_PATTERN, 'gu'))) {
    const piece = m[0];
    if (piece === '<|startoftext|>' || piece === '<|endoftext|>') {
      ids.push(VOCAB[piece]!);
      continue;
    }
    let word = Array.from(enc(piece));
    word[word.length - 1] += '</w>';
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(word[i] + ' ' + word[i + 1]);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      const [a, b] = [word[best]!, word[best + 1]!];
      const next: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(word[i]!);
      }
      word = next;
    }
    for (const t of word) ids.push(VOCAB[t]!);
  }
  return ids;
}

const sd1 = () => ClipTokenizer.fromFiles({ vocab: VOCAB, merges: MERGES_TXT });
const sd2 = () =>
  ClipTokenizer.fromFiles({
    vocab: JSON.stringify(VOCAB),
    merges: MERGES_TXT,
    specialTokensMap: { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '!' },
    tokenizerConfig: JSON.stringify({ model_max_length: 77, pad_token: { content: '!', lstrip: false } }),
  });
const id = (t: string) => VOCAB[t]!;
const ch = (c: string) => id(c); // single byte-level character
const chw = (c: string) => id(c + '</w>');

describe('CLIP tokenizer', () => {
  it('hand-worked cases: case folding, merges, apostrophes, punctuation, digits, unicode, whitespace', () => {
    const t = sd1();
    expect(t.encodeContent('Hello')).toEqual([id('hello</w>')]);
    expect(t.encodeContent('HELLO   cat')).toEqual([id('hello</w>'), id('cat</w>')]);
    expect(t.encodeContent("cat's")).toEqual([id('cat</w>'), id("'s</w>")]);
    expect(t.encodeContent('cat!!')).toEqual([id('cat</w>'), id('!!</w>')]);
    expect(t.encodeContent('cat!')).toEqual([id('cat</w>'), chw('!')]);
    // digits are split one per token: [\p{N}]
    expect(t.encodeContent('123')).toEqual([chw('1'), chw('2'), chw('3')]);
    // é is two UTF-8 bytes merged by rank 12; café by 13-15
    expect(t.encodeContent('É')).toEqual([id(enc('é') + '</w>')]);
    expect(t.encodeContent('Café')).toEqual([id('caf' + enc('é') + '</w>')]);
    // unmerged word falls back to byte characters with </w> on the last
    expect(t.encodeContent('xyz')).toEqual([ch('x'), ch('y'), chw('z')]);
    expect(t.encodeContent('  \t\n hello \u00a0 cat  ')).toEqual([id('hello</w>'), id('cat</w>')]);
    // 't is its own pre-token; "don" ends in n</w>, and no merge makes "don</w>" from "do" + "n</w>"
    expect(t.encodeContent("don't")).toEqual([id('do'), chw('n'), ch("'"), chw('t')]);
    expect(t.tokenize('hello cat')).toEqual(['hello</w>', 'cat</w>']);
  });

  it('matches the independent reference on a varied corpus', () => {
    const t = sd1();
    const corpus = [
      'a photo of a cat', 'A PHOTO OF ONE CAT!!', "it's the cat's hat, isn't it?", 'phone 2024: 42 cats & 7 dogs',
      'Crème brûlée café', 'naïve façade — “quoted” ‘text’', '日本語のテキスト', 'emoji 🐱🚀 ok', 'tabs\tand\nnewlines',
      'ünïcödé ΣΊΣΥΦΟΣ', '<|endoftext|> inside', 'mixed123abc45', 'e\u0301 decomposed', "you'll we've they're I'm he'd",
      '   ', '', '!!!???...', 'x'.repeat(300),
    ];
    for (const s of corpus) expect(t.encodeContent(s), JSON.stringify(s)).toEqual(refEncode(s));
  });

  it('SD 1.x: BOS … EOS padded with <|endoftext|> to 77', () => {
    const e = sd1().encode('hello cat');
    expect(e.ids.slice(0, 4)).toEqual([BOS, id('hello</w>'), id('cat</w>'), EOS]);
    expect(e.ids).toHaveLength(77);
    expect(e.ids.slice(4).every((x) => x === EOS)).toBe(true);
    expect(e.attentionMask).toEqual([1, 1, 1, 1, ...new Array(73).fill(0)]);
    expect(e.truncated).toBe(false);
    expect(sd1().encode('').ids.slice(0, 3)).toEqual([BOS, EOS, EOS]);
  });

  it('SD 2.x: pad_token "!" (id 0) from special_tokens_map / tokenizer_config', () => {
    const t = sd2();
    expect(t.padId).toBe(0);
    const e = t.encode('hello cat');
    expect(e.ids.slice(0, 4)).toEqual([BOS, id('hello</w>'), id('cat</w>'), EOS]);
    expect(e.ids.slice(4)).toEqual(new Array(73).fill(0));
    // pad from tokenizer_config alone
    const t2 = ClipTokenizer.fromFiles({ vocab: VOCAB, merges: MERGES_TXT, tokenizerConfig: { pad_token: '!' } });
    expect(t2.encode('cat').ids[3]).toBe(0);
    expect(t.decode(t.encode('Hello cat!').ids)).toBe('hello cat!');
  });

  it('truncates content to 75 tokens, keeping BOS and EOS, at 77 total', () => {
    const t = sd1();
    const long = Array.from({ length: 100 }, (_, i) => (i % 2 ? 'cat' : 'hello')).join(' ');
    const e = t.encode(long);
    expect(e.ids).toHaveLength(77);
    expect(e.ids[0]).toBe(BOS);
    expect(e.ids[76]).toBe(EOS);
    expect(e.ids.slice(1, 76)).toEqual(refEncode(long).slice(0, 75));
    expect(e.truncated).toBe(true);
    expect(e.attentionMask.every((m) => m === 1)).toBe(true);
    // exactly 75 content tokens: no truncation, no padding
    const exact = t.encode(Array(75).fill('cat').join(' '));
    expect(exact.truncated).toBe(false);
    expect(exact.ids).toHaveLength(77);
    expect(exact.ids[76]).toBe(EOS);
    // digits: 80 of them become 80 tokens; cut at 75
    expect(t.encode('7'.repeat(80)).ids.slice(1, 76)).toEqual(new Array(75).fill(chw('7')));
    // options: no padding, other length, no truncation
    expect(t.encode('hello', { padding: false }).ids).toEqual([BOS, id('hello</w>'), EOS]);
    expect(t.encode(long, { maxLength: 10 }).ids).toHaveLength(10);
    expect(t.encode(long, { truncation: false, padding: false }).ids).toHaveLength(102);
  });

  it('rejects broken files with a clear error', () => {
    expect(() => ClipTokenizer.fromFiles({ vocab: '{nope', merges: MERGES_TXT })).toThrow(/vocab.json/);
    expect(() => ClipTokenizer.fromFiles({ vocab: VOCAB, merges: 'a b c\n' })).toThrow(/merges.txt/);
    expect(() => ClipTokenizer.fromFiles({ vocab: { a: 0 }, merges: '' })).toThrow(/not in vocab/);
  });
});

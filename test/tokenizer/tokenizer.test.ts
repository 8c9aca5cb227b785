/**
 * Tokenizers from GGUF metadata against llama.cpp (node-llama-cpp 3.22.1, run here on the same files):
 * token ids, special ids and end-of-generation sets, per-token pieces and llama_detokenize, on an awkward
 * corpus plus seeded random strings, for byte-level BPE under each pre-tokenizer and for SentencePiece-style
 * vocabularies; then round trips and streaming decode, which need no oracle.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Token } from 'node-llama-cpp';
import { createTokenizer, type Tokenizer } from '../../src/tokenizer';
import { gpt2ByteToUnicode, gv, makeSpmVocab, TOKEN_TYPE } from '../reference/gguf_writer';
import { CORPUS, randomStrings } from './corpus';
import {
  EXTRA_TOKENS, FIXTURE_GGUF, HELDOUT_IDS, HELDOUT_TEXT, type TokenizerFile, bpeVariantMetadata, openTokenizerFile,
  spmVariantMetadata, writeTokenizerGguf,
} from './files';

const STRINGS = [...CORPUS, ...randomStrings(400, 20240601)];
const SPM_SPECIALS = EXTRA_TOKENS.filter(([t]) => t !== '<0x0A>'); // an SPM vocabulary already has <0x0A>

let fixtureMeta: Record<string, unknown> | undefined;
async function fixture(): Promise<TokenizerFile> {
  const f = await openTokenizerFile('fixture (gpt2, gpt-2)', FIXTURE_GGUF);
  fixtureMeta = f.metadata;
  return f;
}
async function bpeVariant(pre: string | undefined): Promise<TokenizerFile> {
  const base = fixtureMeta ?? (await fixture()).metadata;
  const name = `gpt2-${pre ?? 'no-pre'}`;
  return openTokenizerFile(name, writeTokenizerGguf(name, bpeVariantMetadata(base, pre)));
}

const CASES: { name: string; open: () => Promise<TokenizerFile> }[] = [
  { name: 'fixture gpt2 / gpt-2', open: fixture },
  { name: 'gpt2 / llama-bpe', open: () => bpeVariant('llama-bpe') },
  { name: 'gpt2 / qwen2', open: () => bpeVariant('qwen2') },
  { name: 'gpt2 / default', open: () => bpeVariant('default') },
  { name: 'gpt2 / smollm (digits split)', open: () => bpeVariant('smollm') },
  { name: 'gpt2 / no pre (llama.cpp: default)', open: () => bpeVariant(undefined) },
  {
    name: 'llama (SPM) trained on held-out text',
    open: () => openTokenizerFile('spm', writeTokenizerGguf('spm', spmVariantMetadata({ specials: SPM_SPECIALS }))),
  },
  {
    name: 'llama (SPM) without space prefix',
    open: () =>
      openTokenizerFile('spm-noprefix', writeTokenizerGguf('spm-noprefix', spmVariantMetadata({ addSpacePrefix: false, specials: SPM_SPECIALS }))),
  },
  {
    name: 'llama (SPM) named Phi-3 (special tokens strip following whitespace)',
    open: () =>
      openTokenizerFile(
        'Phi-3-mini-4k-instruct',
        writeTokenizerGguf(
          'Phi-3-mini-4k-instruct',
          spmVariantMetadata({
            nMerges: 200,
            specials: [['<|user|>', TOKEN_TYPE.CONTROL], ['<|assistant|>', TOKEN_TYPE.CONTROL], ['<|end|>', TOKEN_TYPE.CONTROL], ['<|endoftext|>', TOKEN_TYPE.CONTROL], ['<tool_call>', TOKEN_TYPE.USER_DEFINED]],
          }),
        ),
      ),
  },
  {
    name: 'llama (SPM) from the synthetic-model writer',
    open: () => openTokenizerFile('spm-writer', writeTokenizerGguf('spm-writer', { ...makeSpmVocab(64).metadata, 'tokenizer.ggml.add_eos_token': gv.bool(true) })),
  },
];

const show = (s: string) => JSON.stringify(s);
/** Lone surrogates → U+FFFD, as any UTF-8 encoder (and so llama.cpp's input) does. */
const wellFormed = (s: string) => (s as unknown as { toWellFormed(): string }).toWellFormed();

describe.each(CASES)('$name', ({ open }) => {
  let file: TokenizerFile;
  let tok: Tokenizer;
  beforeAll(async () => {
    file = await open();
    tok = createTokenizer(file.metadata);
  });

  it('has llama.cpp’s special ids, BOS/EOS flags and end-of-generation set', () => {
    const t = file.oracle.tokens;
    expect(tok.vocabSize).toBe([...file.oracle.iterateAllTokens()].length);
    expect(tok.bosId ?? null).toBe(t.bos === null ? null : Number(t.bos));
    expect(tok.eosId ?? null).toBe(t.eos === null ? null : Number(t.eos));
    // Without eot_token_id in the file, llama.cpp takes the first EOT-looking token in unordered_map order
    // (unspecified; differs across C++ libraries): both picks must be EOT-looking tokens, or both absent.
    const eotLike = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>', '[EOT]'];
    if (t.eot === null || 'tokenizer.ggml.eot_token_id' in file.metadata) expect(tok.eotId ?? null).toBe(t.eot === null ? null : Number(t.eot));
    else {
      expect(eotLike).toContain(tok.tokenText(tok.eotId!));
      expect(eotLike).toContain(tok.tokenText(Number(t.eot)));
    }
    expect(tok.addBos).toBe(t.shouldPrependBosToken);
    expect(tok.addEos).toBe(t.shouldAppendEosToken);
    const eogOurs: number[] = [];
    const eogLlama: number[] = [];
    for (let id = 0; id < tok.vocabSize; id++) {
      if (tok.isEndOfGeneration(id)) eogOurs.push(id);
      if (file.oracle.isEogToken(id as Token)) eogLlama.push(id);
    }
    expect(eogOurs).toEqual(eogLlama);
    expect(tok.endOfGenerationIds).toEqual(eogLlama);
  });

  it.each([false, true])('encodes the corpus and random strings to llama.cpp’s ids (parseSpecial %s)', (parseSpecial) => {
    const mismatches: string[] = [];
    for (const s of STRINGS) {
      const ours = tok.encode(s, { addBos: false, addEos: false, parseSpecial });
      const theirs = file.oracle.tokenize(s, parseSpecial).map(Number);
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) mismatches.push(`${show(s)}: ours ${JSON.stringify(ours)} llama.cpp ${JSON.stringify(theirs)}`);
    }
    console.info(`${file.name}, parseSpecial ${parseSpecial}: ${STRINGS.length - mismatches.length}/${STRINGS.length} strings equal llama.cpp`);
    expect(mismatches).toEqual([]);
  });

  it('adds BOS/EOS as llama.cpp’s add_special does', () => {
    for (const s of ['', 'Hello world', '<|endoftext|>x']) {
      const ids = tok.encode(s, { parseSpecial: true });
      const body = file.oracle.tokenize(s, true).map(Number);
      const t = file.oracle.tokens;
      const expected = [
        ...(t.shouldPrependBosToken && t.bos !== null ? [Number(t.bos)] : []),
        ...body,
        ...(t.shouldAppendEosToken && t.eos !== null ? [Number(t.eos)] : []),
      ];
      expect(ids).toEqual(expected);
    }
  });

  it('decodes every token, and every corpus tokenization, as llama_detokenize does', () => {
    const mismatches: string[] = [];
    for (const special of [false, true]) {
      const check = (ids: number[]) => {
        const ours = tok.decode(ids, { skipSpecial: !special, cleanSpaces: true });
        const theirs = file.oracle.detokenize(ids as Token[], special);
        if (ours !== theirs) mismatches.push(`special ${special} ${JSON.stringify(ids)}: ours ${show(ours)} llama.cpp ${show(theirs)}`);
      };
      for (let id = 0; id < tok.vocabSize; id++) check([id]);
      for (const s of STRINGS) check(tok.encode(s, { parseSpecial: true }));
    }
    expect(mismatches).toEqual([]);
  });

  it('round-trips text through encode and decode', () => {
    for (const s of STRINGS) {
      // SPM prefixes a space to text after a special token (llama.cpp does too), and user-defined tokens
      // are special even without parseSpecial: such strings do not round-trip there by design.
      if (tok.model === 'llama' && s.includes('<tool_call>')) continue;
      expect(tok.decode(tok.encode(s, { addBos: false, addEos: false }))).toBe(wellFormed(s));
    }
  });

  it('streams the same text as decode, never emitting U+FFFD for valid text', () => {
    for (const s of STRINGS) {
      const ids = tok.encode(s, { parseSpecial: true });
      for (const skipSpecial of [false, true]) {
        const full = tok.decode(ids, { skipSpecial });
        const stream = tok.createStreamDecoder({ skipSpecial });
        let out = '';
        for (const id of ids) {
          const chunk = stream.push(id);
          if (!full.includes('\uFFFD')) expect(chunk).not.toContain('\uFFFD');
          out += chunk;
        }
        out += stream.flush();
        expect(out).toBe(full);
      }
    }
  });

  it('streams text split at every byte boundary (one byte token each), emitting each character once complete', () => {
    const byteToken = (b: number): number => {
      const text = tok.model === 'gpt2' ? gpt2ByteToUnicode()[b]! : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      const id = tok.tokenId(text);
      if (id === undefined) throw new Error(`no byte token for ${b}`);
      return id;
    };
    const enc = new TextEncoder();
    for (const s of CORPUS.filter((x) => x === wellFormed(x))) {
      // Expected output after each byte: the characters whose last byte has arrived (computed from the string).
      const ends = new Map<number, string>();
      let at = 0;
      for (const ch of s) {
        at += enc.encode(ch).length;
        ends.set(at, ch);
      }
      const stream = tok.createStreamDecoder({ stripLeadingSpace: false });
      const bytes = enc.encode(s);
      bytes.forEach((b, i) => expect(stream.push(byteToken(b))).toBe(ends.get(i + 1) ?? ''));
      expect(stream.flush()).toBe('');
    }
  });
});

describe('fixture held-out text', () => {
  it('encodes to the recorded reference ids and to llama.cpp’s', async () => {
    const file = await openTokenizerFile('fixture', FIXTURE_GGUF);
    const tok = createTokenizer(file.metadata);
    const ids = tok.encode(HELDOUT_TEXT, { parseSpecial: true });
    expect(ids.length).toBe(HELDOUT_IDS.length);
    expect(ids).toEqual(HELDOUT_IDS);
    expect(ids).toEqual([Number(file.oracle.tokens.bos), ...file.oracle.tokenize(HELDOUT_TEXT, true).map(Number)]);
    expect(tok.decode(ids, { skipSpecial: true })).toBe(HELDOUT_TEXT.replaceAll('<|endoftext|>', ''));
  });
});

describe('bad or unsupported tokenizer metadata', () => {
  async function fixtureMetadata() {
    return (await openTokenizerFile('fixture', FIXTURE_GGUF)).metadata;
  }
  function codeOf(f: () => unknown): string | undefined {
    try {
      f();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  }

  it('refuses a pre-tokenizer it does not know, naming the known ones, as llama.cpp refuses to load the file', async () => {
    const meta = bpeVariantMetadata(await fixtureMetadata(), 'no-such-pre');
    const path = writeTokenizerGguf('bad-pre', meta);
    await expect(openTokenizerFile('bad-pre', path)).rejects.toThrow();
    const { gguf } = await import('@huggingface/gguf');
    const read = (await gguf(path, { allowLocalFile: true })).metadata as unknown as Record<string, unknown>;
    expect(() => createTokenizer(read)).toThrow(/no-such-pre.*known: default, gpt-2.*llama-bpe.*qwen2/);
    expect(codeOf(() => createTokenizer(read))).toBe('UnsupportedTokenizer');
  });

  it('refuses other tokenizer models and malformed vocabularies with typed errors', async () => {
    const meta = await fixtureMetadata();
    expect(codeOf(() => createTokenizer({ ...meta, 'tokenizer.ggml.model': 'bert' }))).toBe('UnsupportedTokenizer');
    expect(codeOf(() => createTokenizer({ ...meta, 'tokenizer.ggml.model': undefined }))).toBe('InvalidModelFile');
    expect(codeOf(() => createTokenizer({ ...meta, 'tokenizer.ggml.merges': undefined }))).toBe('InvalidModelFile');
    expect(codeOf(() => createTokenizer({ ...meta, 'tokenizer.ggml.tokens': [] }))).toBe('InvalidModelFile');
    expect(codeOf(() => createTokenizer({ ...meta, 'tokenizer.ggml.tokens': ['a', 'a'] }))).toBe('InvalidModelFile');
    expect(codeOf(() => createTokenizer({ ...meta, 'tokenizer.ggml.token_type': [1, 1] }))).toBe('InvalidModelFile');
    expect(codeOf(() => createTokenizer({ ...meta, 'tokenizer.ggml.bos_token_id': 'x' }))).toBe('InvalidModelFile');
    const tok = createTokenizer(meta);
    expect(codeOf(() => tok.decode([tok.vocabSize]))).toBe('InvalidArgument');
    expect(codeOf(() => tok.createStreamDecoder().push(-1))).toBe('InvalidArgument');
  });

  it('accepts typed arrays and bigints, as other GGUF readers hand them over', async () => {
    const meta = await fixtureMetadata();
    const typed = {
      ...meta,
      'tokenizer.ggml.token_type': Int32Array.from(meta['tokenizer.ggml.token_type'] as number[]),
      'tokenizer.ggml.bos_token_id': BigInt(meta['tokenizer.ggml.bos_token_id'] as number),
    };
    const a = createTokenizer(meta);
    const b = createTokenizer(typed);
    for (const s of CORPUS) expect(b.encode(s, { parseSpecial: true })).toEqual(a.encode(s, { parseSpecial: true }));
  });
});

/**
 * Tokenizer-only GGUF files for the tokenizer tests, and llama.cpp (node-llama-cpp, vocab_only) loaded on
 * them as the oracle. Files are written with the test-side GGUF writer (test/reference/gguf_writer.ts) and
 * read back with @huggingface/gguf, so the tokenizer under test sees what a GGUF reader hands over.
 *
 * Vocabularies with real merges: the fixture model's byte-level BPE (767 merges trained on fortunes) under
 * other pre-tokenizers, and a SentencePiece-style vocabulary trained here on the fixture's held-out text.
 */
import { readFileSync } from 'node:fs';
import { gguf } from '@huggingface/gguf';
import type { LlamaModel } from 'node-llama-cpp';
import { gv, type MetaValue, TOKEN_TYPE, trainMerges, writeGguf, writeTempFile } from '../reference/gguf_writer';
import { llama } from '../reference/llamacpp';

export const FIXTURE_DIR = new URL('../../../shared/models/fortunes-1.8m/', import.meta.url);
export const FIXTURE_GGUF = new URL('fortunes-1.8m-f32.gguf', FIXTURE_DIR).pathname;
export const HELDOUT_TEXT = readFileSync(new URL('heldout.txt', FIXTURE_DIR), 'utf8');
export const HELDOUT_IDS = JSON.parse(readFileSync(new URL('reference/heldout_ids.json', FIXTURE_DIR), 'utf8')) as number[];

export interface TokenizerFile {
  name: string;
  path: string;
  /** The file's metadata as @huggingface/gguf reads it. */
  metadata: Record<string, unknown>;
  /** llama.cpp on the same file (vocabulary only). */
  oracle: LlamaModel;
}

/**
 * Loads a GGUF file's metadata and llama.cpp's vocabulary for it. (node-llama-cpp first simulates a full
 * load to estimate memory; on these tensor-less files that logs "missing tensor 'token_embd.weight'" and it
 * falls back to a heuristic: expected noise, the vocab_only load itself succeeds.)
 */
export async function openTokenizerFile(name: string, path: string): Promise<TokenizerFile> {
  const { metadata } = await gguf(path, { allowLocalFile: true });
  const oracle = await (await llama()).loadModel({ modelPath: path, vocabOnly: true });
  return { name, path, metadata: metadata as unknown as Record<string, unknown>, oracle };
}

/** A GGUF file with just enough `llama` hyperparameters for llama.cpp to load its vocabulary. */
export function writeTokenizerGguf(name: string, tokenizer: Record<string, MetaValue>): string {
  const metadata: Record<string, MetaValue> = {
    'general.architecture': gv.string('llama'),
    'general.name': gv.string(name),
    'llama.context_length': gv.u32(64),
    'llama.embedding_length': gv.u32(64),
    'llama.block_count': gv.u32(1),
    'llama.feed_forward_length': gv.u32(128),
    'llama.rope.dimension_count': gv.u32(16),
    'llama.attention.head_count': gv.u32(4),
    'llama.attention.head_count_kv': gv.u32(4),
    'llama.attention.layer_norm_rms_epsilon': gv.f32(1e-5),
    ...tokenizer,
  };
  return writeTempFile(writeGguf({ metadata, tensors: [] }).bytes, `${name.replace(/[^\w.-]/g, '_')}.gguf`);
}

/**
 * Extra special tokens appended to a vocabulary: chat markers (control), a user-defined token (always
 * matched, even without special parsing), and tokens stored as NORMAL whose text llama.cpp promotes to
 * control and end-of-generation (`<|eot_id|>`) or FIM control (`<|fim_prefix|>`), and a BYTE token.
 */
export const EXTRA_TOKENS: readonly [string, number][] = [
  ['<|im_start|>', TOKEN_TYPE.CONTROL],
  ['<|im_end|>', TOKEN_TYPE.CONTROL],
  ['<|begin_of_text|>', TOKEN_TYPE.CONTROL],
  ['<|start_header_id|>', TOKEN_TYPE.CONTROL],
  ['<|end_header_id|>', TOKEN_TYPE.CONTROL],
  ['<|eot_id|>', TOKEN_TYPE.NORMAL],
  ['<|fim_prefix|>', TOKEN_TYPE.NORMAL],
  ['<tool_call>', TOKEN_TYPE.USER_DEFINED],
  ['<0x0A>', TOKEN_TYPE.BYTE],
];

/** The fixture's byte-level BPE vocabulary and merges (with EXTRA_TOKENS appended) under another `pre`. */
export function bpeVariantMetadata(fixture: Record<string, unknown>, pre: string | undefined): Record<string, MetaValue> {
  const tokens = [...(fixture['tokenizer.ggml.tokens'] as string[]), ...EXTRA_TOKENS.map(([t]) => t)];
  const types = [...(fixture['tokenizer.ggml.token_type'] as number[]), ...EXTRA_TOKENS.map(([, t]) => t)];
  const meta: Record<string, MetaValue> = {
    'tokenizer.ggml.model': gv.string('gpt2'),
    'tokenizer.ggml.tokens': gv.array('string', tokens),
    'tokenizer.ggml.token_type': gv.array('i32', types),
    'tokenizer.ggml.merges': gv.array('string', fixture['tokenizer.ggml.merges'] as string[]),
    'tokenizer.ggml.bos_token_id': gv.u32(tokens.indexOf('<|begin_of_text|>')),
    'tokenizer.ggml.eos_token_id': gv.u32(tokens.indexOf('<|endoftext|>')),
    'tokenizer.ggml.add_bos_token': gv.bool(true),
  };
  if (pre !== undefined) meta['tokenizer.ggml.pre'] = gv.string(pre);
  return meta;
}

/**
 * A SentencePiece-style (`llama`) vocabulary trained on the held-out fortunes: <unk> <s> </s>, the 256
 * `<0xNN>` byte tokens, the characters of the text (minus digits 5–9 and `@`, so byte fallback happens),
 * then `nMerges` pieces. Scores fall by one every three pieces, so equal scores (ties, which llama.cpp breaks
 * leftmost-first) are common. Special tokens are appended.
 */
export function spmVariantMetadata(opts: { nMerges?: number; addSpacePrefix?: boolean; specials?: readonly [string, number][] } = {}): Record<string, MetaValue> {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_TYPE.BYTE);
    scores.push(0);
  }
  const text = HELDOUT_TEXT.slice(0, 20_000).replaceAll('<|endoftext|>', '\n').replaceAll(' ', '\u2581');
  const chars = [...new Set(Array.from(text))].filter((c) => !/[5-9@\n\t]/.test(c)).sort();
  const seen = new Set(tokens);
  for (const c of chars) {
    seen.add(c);
    tokens.push(c);
    types.push(TOKEN_TYPE.NORMAL);
    scores.push(-10_000);
  }
  const words = (text.match(/\u2581*[^\u2581\n]+|\n+/g) ?? []).map((w) => Array.from(w));
  trainMerges(words, opts.nMerges ?? 400).map(([a, b]) => a + b).forEach((piece, i) => {
    if (seen.has(piece)) return;
    seen.add(piece);
    tokens.push(piece);
    types.push(TOKEN_TYPE.NORMAL);
    scores.push(-Math.floor(i / 3));
  });
  for (const [t, type] of opts.specials ?? []) {
    tokens.push(t);
    types.push(type);
    scores.push(0);
  }
  const meta: Record<string, MetaValue> = {
    'tokenizer.ggml.model': gv.string('llama'),
    'tokenizer.ggml.tokens': gv.array('string', tokens),
    'tokenizer.ggml.scores': gv.array('f32', scores),
    'tokenizer.ggml.token_type': gv.array('i32', types),
    'tokenizer.ggml.bos_token_id': gv.u32(1),
    'tokenizer.ggml.eos_token_id': gv.u32(2),
    'tokenizer.ggml.unknown_token_id': gv.u32(0),
    'tokenizer.ggml.add_bos_token': gv.bool(true),
    'tokenizer.ggml.add_eos_token': gv.bool(false),
  };
  if (opts.addSpacePrefix !== undefined) meta['tokenizer.ggml.add_space_prefix'] = gv.bool(opts.addSpacePrefix);
  return meta;
}

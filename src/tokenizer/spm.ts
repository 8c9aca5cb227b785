/**
 * SentencePiece-style BPE (`tokenizer.ggml.model` = llama), a port of llama.cpp's `llm_tokenizer_spm_session`:
 * spaces become `▁`, then the adjacent pair whose concatenation is a token with the highest score is merged
 * (leftmost first on ties) until none is left; characters that are no token fall back to `<0xNN>` byte tokens.
 *
 * Why not Hugging Face's BPE with merges derived from the scores: llama.cpp ranks a pair by the score of the
 * token it makes, so two different pairs making the same token tie and the leftmost wins, while a merge list
 * gives each pair its own rank; and the file has no merge list to begin with.
 */
import { ModelFileError } from '../errors';
import { Heap } from './heap';
import { utf8Encoder } from './unicode';
import type { Vocab } from './vocab';

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Length (UTF-16 units) of the pair when queued: a changed length means a symbol merged since. */
  size: number;
}

const beforeBigram = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');

export class SpmTokenizer {
  constructor(private readonly vocab: Vocab) {}

  /** Appends the ids of `text` (already prefixed and with spaces escaped to `▁`) to `out`. */
  encode(text: string, out: number[]): void {
    const { tokenToId, scores } = this.vocab;
    const start: number[] = []; // symbol i is text.slice(start[i], start[i] + len[i])
    const len: number[] = [];
    for (let i = 0; i < text.length; ) {
      const n = text.codePointAt(i)! > 0xffff ? 2 : 1;
      start.push(i);
      len.push(n);
      i += n;
    }
    const count = start.length;
    const next = start.map((_, i) => (i + 1 < count ? i + 1 : -1));
    const prev = start.map((_, i) => i - 1);
    const queue = new Heap<Bigram>(beforeBigram);
    // The last pair seen for each merged text, for llama.cpp's resegment().
    const revMerge = new Map<string, [number, number]>();
    const symbol = (i: number) => text.slice(start[i], start[i]! + len[i]!);

    const tryAddBigram = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const merged = text.slice(start[left], start[left]! + len[left]! + len[right]!);
      const id = tokenToId.get(merged);
      if (id === undefined) return;
      queue.push({ left, right, score: scores[id]!, size: merged.length });
      revMerge.set(merged, [left, right]);
    };
    for (let i = 1; i < count; i++) tryAddBigram(i - 1, i);

    while (queue.size > 0) {
      const b = queue.pop()!;
      if (len[b.left] === 0 || len[b.right] === 0 || len[b.left]! + len[b.right]! !== b.size) continue;
      len[b.left]! += len[b.right]!;
      len[b.right] = 0;
      next[b.left] = next[b.right]!;
      if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
      tryAddBigram(prev[b.left]!, b.left);
      tryAddBigram(b.left, next[b.left]!);
    }

    const resegment = (i: number) => {
      const piece = symbol(i);
      const id = tokenToId.get(piece);
      if (id !== undefined) {
        out.push(id);
        return;
      }
      const pair = revMerge.get(piece);
      if (pair) {
        resegment(pair[0]);
        resegment(pair[1]);
        return;
      }
      for (const byte of utf8Encoder.encode(piece)) out.push(this.byteToken(byte));
    };
    for (let i = 0; i >= 0 && i < count; i = next[i]!) resegment(i);
  }

  /** llama.cpp `byte_to_token`: `<0xNN>`, else the byte itself as a one-character token. */
  private byteToken(byte: number): number {
    const { tokenToId } = this.vocab;
    const id = tokenToId.get(`<0x${hex(byte)}>`) ?? (byte < 0x80 ? tokenToId.get(String.fromCharCode(byte)) : undefined);
    if (id === undefined) {
      throw new ModelFileError('InvalidModelFile', `the vocabulary has no byte token <0x${hex(byte)}> for text it cannot otherwise encode`);
    }
    return id;
  }
}

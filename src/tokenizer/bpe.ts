/**
 * Byte-level BPE (`tokenizer.ggml.model` = gpt2), a port of llama.cpp's `llm_tokenizer_bpe_session`:
 * pre-tokenize, write each word's UTF-8 bytes as GPT-2 byte characters, then repeatedly merge the adjacent
 * pair with the lowest merge rank (leftmost first on ties).
 */
import { Heap } from './heap';
import { preTokenize } from './pretokenize';
import { byteEncode, utf8Encoder } from './unicode';
import type { Vocab } from './vocab';

interface Bigram {
  left: number;
  right: number;
  text: string;
  rank: number;
}

const beforeBigram = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

/** Words repeat a lot in real text; remember their ids (bounded, cleared when full). */
const CACHE_LIMIT = 20_000;

export class BpeTokenizer {
  private readonly cache = new Map<string, readonly number[]>();

  constructor(private readonly vocab: Vocab) {}

  /** Appends the ids of `text` (a fragment without special tokens) to `out`. */
  encode(text: string, out: number[]): void {
    for (const piece of preTokenize(this.vocab.pre!, text)) {
      const word = byteEncode(piece);
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.encodeWord(word);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  private encodeWord(word: string): number[] {
    const { tokenToId, mergeRanks, pre } = this.vocab;
    const whole = tokenToId.get(word);
    if (pre!.ignoreMerges && whole !== undefined) return [whole];

    // Symbols are the word's characters (one per byte), linked so merges can splice them out.
    const text = Array.from(word);
    const next = text.map((_, i) => (i + 1 < text.length ? i + 1 : -1));
    const prev = text.map((_, i) => i - 1);
    const alive = text.map(() => true);
    const queue = new Heap<Bigram>(beforeBigram);
    const addBigram = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const rank = mergeRanks.get(text[left]!)?.get(text[right]!);
      if (rank !== undefined) queue.push({ left, right, text: text[left]! + text[right]!, rank });
    };
    for (let i = 1; i < text.length; i++) addBigram(i - 1, i);

    while (queue.size > 0) {
      const b = queue.pop()!;
      // Skip pairs that an earlier merge changed (llama.cpp compares the texts).
      if (!alive[b.left] || !alive[b.right] || text[b.left]! + text[b.right]! !== b.text) continue;
      text[b.left] = b.text;
      alive[b.right] = false;
      next[b.left] = next[b.right]!;
      if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
      addBigram(prev[b.left]!, b.left);
      addBigram(b.left, next[b.left]!);
    }

    const ids: number[] = [];
    for (let i = 0; i >= 0 && i < text.length; i = next[i]!) {
      const id = tokenToId.get(text[i]!);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // Not a token: llama.cpp looks up each UTF-8 byte of the symbol as a one-byte token and drops the
      // bytes that are none (only ASCII bytes can be, since token texts are valid UTF-8).
      for (const byte of utf8Encoder.encode(text[i]!)) {
        const b = byte < 0x80 ? tokenToId.get(String.fromCharCode(byte)) : undefined;
        if (b !== undefined) ids.push(b);
      }
    }
    return ids;
  }
}

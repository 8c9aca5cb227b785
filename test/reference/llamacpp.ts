/**
 * llama.cpp (through node-llama-cpp, CPU build, never compiled or downloaded) as an oracle for tests:
 * tokenization, raw logits at every position, greedy continuations, perplexity. Each file is loaded once
 * per process; every evaluation uses a fresh context so runs do not share KV state.
 */
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | undefined;
const models = new Map<string, Promise<LlamaModel>>();

export function llama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  return llamaPromise;
}

/** Loads a GGUF file (once per path). */
export function loadLlamaCpp(path: string): Promise<LlamaModel> {
  let m = models.get(path);
  if (!m) {
    m = llama().then((l) => l.loadModel({ modelPath: path, gpuLayers: 0, useMmap: false }));
    models.set(path, m);
  }
  return m;
}

export interface TokenizeOptions {
  /** Prepend BOS when the model's `add_bos_token` says so (llama_tokenize's add_special). Default true. */
  addBos?: boolean;
  /** Parse special-token text like `<|endoftext|>` into its id. Default false. */
  special?: boolean;
}

/** Token ids as llama.cpp's tokenizer produces them. */
export async function tokenize(path: string, text: string, opts: TokenizeOptions = {}): Promise<number[]> {
  const model = await loadLlamaCpp(path);
  const ids = model.tokenize(text, opts.special ?? false).map(Number);
  const bos = model.tokens.bos;
  // node-llama-cpp's tokenize never adds BOS; add it as llama_tokenize(add_special) would, per the file's flag.
  if ((opts.addBos ?? true) && model.tokens.shouldPrependBosToken && bos !== null) return [Number(bos), ...ids];
  return ids;
}

export async function detokenize(path: string, ids: readonly number[]): Promise<string> {
  const model = await loadLlamaCpp(path);
  return model.detokenize(ids as Token[]);
}

export interface EvalOptions {
  /**
   * KV cache type. llama.cpp's default is F16, which rounds K and V to half precision (~5e-4 relative);
   * F32 (our default here) keeps llama.cpp as close to exact math as its CPU path allows.
   */
  kvCache?: 'F32' | 'F16';
}

async function withSequence<T>(path: string, contextSize: number, opts: EvalOptions, f: (seq: import('node-llama-cpp').LlamaContextSequence) => Promise<T>): Promise<T> {
  const model = await loadLlamaCpp(path);
  const kv = opts.kvCache ?? 'F32';
  const ctx = await model.createContext({
    contextSize, batchSize: contextSize, sequences: 1, threads: 1,
    // Flash attention on the CPU converts Q to F16; the plain path keeps f32 scores.
    flashAttention: false, experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv,
  });
  try {
    return await f(ctx.getSequence());
  } finally {
    await ctx.dispose();
  }
}

/** A dense logit row from node-llama-cpp's sorted Map<token, logit> (which holds every vocabulary entry). */
function denseRow(map: Map<Token, number>, nVocab: number): Float32Array {
  if (map.size !== nVocab) throw new Error(`llama.cpp returned ${map.size} logits, expected ${nVocab}`);
  const row = new Float32Array(nVocab);
  for (const [t, v] of map) row[Number(t)] = v;
  return row;
}

/**
 * Raw logits after each token of `tokens` (row i predicts token i+1), from one controlledEvaluate call with
 * `generateNext.logits` on every position.
 */
export async function logitsAt(path: string, tokens: readonly number[], opts: EvalOptions = {}): Promise<Float32Array[]> {
  const model = await loadLlamaCpp(path);
  const nVocab = vocabSize(model);
  return withSequence(path, ctxFor(tokens.length), opts, async (seq) => {
    const out = await seq.controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { logits: true } }]));
    return tokens.map((_, i) => {
      const logits = out[i]?.next.logits;
      if (!logits) throw new Error(`llama.cpp returned no logits at position ${i}`);
      return denseRow(logits, nVocab);
    });
  });
}

function vocabSize(model: LlamaModel): number {
  const meta = model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: unknown[] } } };
  const n = meta.tokenizer?.ggml?.tokens?.length;
  if (!n) throw new Error('cannot find the vocabulary size in the model metadata');
  return n;
}

/** Room for n tokens and one more: a sequence that fills its context exactly gets shifted by node-llama-cpp. */
function ctxFor(n: number): number {
  return Math.max(32, Math.ceil((n + 1) / 32) * 32);
}

/**
 * Greedy continuation: evaluates the prompt, then repeatedly feeds back the argmax of the raw logits (ties:
 * lowest id) — so the choice is ours, not a sampler's. Stops after `n` tokens or at `eos` (included).
 */
export async function greedy(path: string, prompt: readonly number[], n: number, eos?: number, opts: EvalOptions = {}): Promise<number[]> {
  const model = await loadLlamaCpp(path);
  const nVocab = vocabSize(model);
  return withSequence(path, ctxFor(prompt.length + n), opts, async (seq) => {
    const out: number[] = [];
    let input: number[] = [...prompt];
    for (let k = 0; k < n; k++) {
      const res = await seq.controlledEvaluate(input.map((t, i) => (i === input.length - 1 ? [t as Token, { generateNext: { logits: true } }] : (t as Token))));
      const row = denseRow(res[input.length - 1]!.next.logits!, nVocab);
      const next = argmax(row);
      out.push(next);
      if (next === eos) break;
      input = [next];
    }
    return out;
  });
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** log-softmax of one row at index `t`, in float64. */
export function logProb(row: ArrayLike<number>, t: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[t]! - max - Math.log(sum);
}

/**
 * Perplexity of `ids`: every token after the first is predicted (ids.length − 1 predictions). The contexts
 * are consecutive non-overlapping windows of `window` tokens, each evaluated from an empty cache; a
 * window's last position predicts the next window's first token. (This is how the fixture's recorded
 * perplexities were computed: "4096 tokens" there means 4096 predictions, from the first 4097 ids.)
 * Returns exp(mean NLL).
 */
export async function perplexity(path: string, ids: readonly number[], window: number, opts: EvalOptions = {}): Promise<number> {
  let nll = 0;
  let count = 0;
  for (let start = 0; start + 1 < ids.length; start += window) {
    const context = ids.slice(start, Math.min(ids.length - 1, start + window));
    const rows = await logitsAt(path, context, opts);
    for (let i = 0; i < context.length; i++) {
      nll -= logProb(rows[i]!, ids[start + i + 1]!);
      count++;
    }
  }
  return Math.exp(nll / count);
}

/**
 * Comparisons the fidelity tests share (our WebGPU engine and the onnxruntime-web backend, each against
 * llama.cpp and the exact f64 reference): largest differences, and top-1 agreement with llama.cpp along its
 * own greedy continuation.
 */
import { argmax } from './llama_ref';
import * as llamacpp from './llamacpp';

/** Largest |a - b| over a row. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Largest |a| over a row. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** What the agreement needs of a model: its tokenizer and a row of logits per position. */
export interface LogitsModel {
  tokenizer: { encode(text: string): number[] };
  logits(tokens: readonly number[]): Promise<ArrayLike<number>[]>;
}

export interface Top1Agreement {
  /** Positions where the model's top-1 is llama.cpp's next token. */
  agree: number;
  /** The same for `exact` (when given). */
  exactAgree: number;
  total: number;
}

/**
 * For each prompt, llama.cpp (node-llama-cpp on the GGUF file at `path`) continues greedily for `steps`
 * tokens (or to `eos`); the model is then forced along prompt + continuation, and each position from the
 * prompt's last on counts as agreeing when the model's top-1 is the token llama.cpp chose next. `exact`, if
 * given, is scored the same way (the exact reference, for context).
 */
export async function top1AlongLlamaCpp(
  model: LogitsModel,
  path: string,
  prompts: readonly string[],
  eos: number,
  opts: { steps?: number; exact?: (tokens: number[]) => ArrayLike<number>[] } = {},
): Promise<Top1Agreement> {
  const out: Top1Agreement = { agree: 0, exactAgree: 0, total: 0 };
  for (const p of prompts) {
    const ids = model.tokenizer.encode(p);
    const seq = [...ids, ...(await llamacpp.greedy(path, ids, opts.steps ?? 32, eos))];
    const rows = await model.logits(seq.slice(0, -1));
    const exact = opts.exact?.(seq.slice(0, -1));
    for (let i = ids.length - 1; i < seq.length - 1; i++) {
      out.total++;
      if (argmax(rows[i]!) === seq[i + 1]) out.agree++;
      if (exact && argmax(exact[i]!) === seq[i + 1]) out.exactAgree++;
    }
  }
  return out;
}

/** What the greedy comparison needs besides LogitsModel: an OpenAI-shaped completion. */
export interface CompletionModel extends LogitsModel {
  completions: { create(r: { prompt: string; max_tokens: number; temperature: number }): Promise<{ choices: { text: string }[] }> };
}

/** The exact f64 reference's side of the comparisons (test/reference/llama_ref.ts). */
export interface ExactReference {
  logits(tokens: readonly number[]): ArrayLike<number>[];
  greedy(promptTokens: readonly number[], n: number, eosId?: number): number[];
}

/**
 * For each prompt: the model's greedy completion of `steps` tokens against the exact reference's greedy
 * tokens, detokenized by llama.cpp (the file at `path`). Returns how many are equal and a line per other.
 */
export async function greedyAgainstExact(
  model: CompletionModel,
  ref: ExactReference,
  path: string,
  prompts: readonly string[],
  eos: number,
  steps = 32,
): Promise<{ equal: number; differing: string[] }> {
  let equal = 0;
  const differing: string[] = [];
  for (const p of prompts) {
    const expectedIds = ref.greedy(model.tokenizer.encode(p), steps, eos).filter((t) => t !== eos);
    const expected = await llamacpp.detokenize(path, expectedIds);
    const text = (await model.completions.create({ prompt: p, max_tokens: steps, temperature: 0 })).choices[0]!.text;
    if (text === expected) equal++;
    else differing.push(`${JSON.stringify(p)}: ours ${JSON.stringify(text)} vs ${JSON.stringify(expected)}`);
  }
  return { equal, differing };
}

/** Over every position of every prompt: the largest |ours − exact| logit, and the largest |exact| logit. */
export async function logitsAgainstExact(model: LogitsModel, ref: ExactReference, prompts: readonly string[]): Promise<{ worst: number; scale: number }> {
  let worst = 0;
  let scale = 0;
  for (const p of prompts) {
    const ids = model.tokenizer.encode(p);
    const ours = await model.logits(ids);
    const exact = ref.logits(ids);
    for (let i = 0; i < ids.length; i++) {
      worst = Math.max(worst, maxDiff(ours[i]!, exact[i]!));
      scale = Math.max(scale, maxAbs(exact[i]!));
    }
  }
  return { worst, scale };
}

/** log softmax(row)[t], computed stably. */
function logSoftmaxAt(row: ArrayLike<number>, t: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[t]! - max - Math.log(sum);
}

/** The model's perplexity on `ids` in windows of `window` tokens, each from an empty cache (as llama.cpp's perplexity). */
export async function perplexity(model: LogitsModel, ids: readonly number[], window: number): Promise<number> {
  let nll = 0;
  let count = 0;
  for (let start = 0; start + 1 < ids.length; start += window) {
    const context = ids.slice(start, Math.min(ids.length - 1, start + window));
    const rows = await model.logits(context);
    for (let i = 0; i < context.length; i++, count++) nll -= logSoftmaxAt(rows[i]!, ids[start + i + 1]!);
  }
  return Math.exp(nll / count);
}

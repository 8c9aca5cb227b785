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

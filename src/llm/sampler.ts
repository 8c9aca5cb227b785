/**
 * Token selection after the GPU has narrowed the vocabulary down to a few candidates.
 *
 * The decode loop never reads the whole logits row back if it can avoid it: the GPU applies penalties and
 * logit biases, then returns the K highest logits (sorted) and log Σ exp(logits) over the full vocabulary.
 * From those this module applies llama.cpp's default sampler chain — top_k → top_p → min_p → temperature →
 * draw — and knows when the candidates are not enough to do that exactly (e.g. top_p over a flat
 * distribution), in which case it asks for the full row ('need-all'). Greedy (temperature 0) is argmax.
 */

export interface SamplingParams {
  /** 0 = greedy. Applied last, as in llama.cpp's default chain. */
  temperature: number;
  /** 0 = no top-k limit. */
  topK: number;
  /** 1 = no nucleus limit. */
  topP: number;
  /** 0 = no min-p limit. */
  minP: number;
  /** llama.cpp's repeat penalty: logits of recent tokens divided (if > 0) or multiplied (if < 0). 1 = off. */
  repetitionPenalty: number;
  /** OpenAI semantics: subtract presencePenalty once and frequencyPenalty × count for each recent token. */
  presencePenalty: number;
  frequencyPenalty: number;
  /** How many recent tokens the penalties look at (llama.cpp's penalty_last_n). */
  penaltyLastN: number;
  /** Added to the logit of each token id (OpenAI logit_bias; -100 effectively bans a token). */
  logitBias: ReadonlyMap<number, number>;
  seed: number;
}

/** llama.cpp's defaults for everything the request leaves out. */
export const DEFAULT_SAMPLING: Omit<SamplingParams, 'seed' | 'logitBias'> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  penaltyLastN: 64,
};

/** Candidates from the GPU: ids and logits sorted by logit, descending (ties by lower id). */
export interface Candidates {
  ids: ArrayLike<number>;
  logits: ArrayLike<number>;
  /** log Σ exp(logit) over the whole vocabulary (after penalties and bias). */
  logSumExp: number;
  /** True when the candidates are the whole vocabulary. */
  complete: boolean;
}

/** Per-token adjustments the GPU applies before selecting candidates: penalties and biases. */
export interface LogitAdjustment {
  id: number;
  /** Occurrences of the token in the penalty window (0 for a bias-only entry). */
  count: number;
  bias: number;
}

export function logitAdjustments(params: SamplingParams, history: readonly number[]): LogitAdjustment[] {
  const penalised = params.repetitionPenalty !== 1 || params.presencePenalty !== 0 || params.frequencyPenalty !== 0;
  const counts = new Map<number, number>();
  if (penalised && params.penaltyLastN !== 0) {
    const window = params.penaltyLastN < 0 ? history : history.slice(-params.penaltyLastN);
    for (const id of window) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const out: LogitAdjustment[] = [];
  for (const [id, count] of counts) out.push({ id, count, bias: params.logitBias.get(id) ?? 0 });
  for (const [id, bias] of params.logitBias) if (!counts.has(id)) out.push({ id, count: 0, bias });
  return out;
}

/** The adjustment of one logit, exactly as the GPU kernel applies it (bias, then llama.cpp's penalties). */
export function adjustLogit(logit: number, a: LogitAdjustment, params: SamplingParams): number {
  let l = logit + a.bias;
  if (a.count > 0) {
    if (params.repetitionPenalty !== 1) l = l > 0 ? l / params.repetitionPenalty : l * params.repetitionPenalty;
    l -= a.count * params.frequencyPenalty + params.presencePenalty;
  }
  return l;
}

/** A small seeded PRNG (xoshiro128**): same seed, same sequence, on every platform. */
export class Random {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    // splitmix32 to spread the seed over the state
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result / 4294967296;
  }
}
function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The survivors of top_k → top_p → min_p over the candidates, or 'need-all' when the candidates cannot
 * decide that exactly. Probabilities for top_p/min_p are those of llama.cpp's chain: softmax over the
 * current survivors (the whole vocabulary when no top_k applies, via logSumExp).
 */
export function filterCandidates(c: Candidates, p: SamplingParams): { ids: number[]; logits: number[] } | 'need-all' {
  const n = c.ids.length;
  let keep = n;
  let complete = c.complete;
  let logZ = c.logSumExp;
  if (p.topK > 0) {
    if (p.topK <= n) {
      keep = p.topK;
      complete = true; // the top k are all here: later steps see exactly llama.cpp's survivors
      logZ = logSumExp(c.logits, keep);
    } else if (!c.complete) {
      return 'need-all';
    }
  }
  if (p.topP < 1) {
    let mass = 0;
    let cut = -1;
    for (let i = 0; i < keep; i++) {
      mass += Math.exp(c.logits[i]! - logZ);
      if (mass >= p.topP) {
        cut = i + 1;
        break;
      }
    }
    if (cut < 0) {
      if (!complete) return 'need-all';
      cut = keep;
    }
    keep = cut;
  }
  if (p.minP > 0 && keep > 0) {
    // p_i ≥ minP · p_max  ⇔  logit_i ≥ logit_max + ln(minP); the normaliser cancels.
    const threshold = c.logits[0]! + Math.log(p.minP);
    let cut = keep;
    for (let i = 1; i < keep; i++) {
      if (c.logits[i]! < threshold) {
        cut = i;
        break;
      }
    }
    if (cut === keep && !complete && keep === n) return 'need-all';
    keep = cut;
  }
  if (!complete && p.topK <= 0 && p.topP >= 1 && p.minP <= 0) return 'need-all';
  return { ids: Array.from(c.ids).slice(0, keep), logits: Array.from(c.logits).slice(0, keep) };
}

/** Picks a token from the survivors: argmax at temperature 0, else a draw from softmax(logits / T). */
export function drawToken(survivors: { ids: number[]; logits: number[] }, temperature: number, rng: Random): number {
  if (survivors.ids.length === 0) throw new Error('no candidate tokens survived sampling');
  if (temperature <= 0) return survivors.ids[0]!;
  const max = survivors.logits[0]!;
  const weights = survivors.logits.map((l) => Math.exp((l - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rng.next() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r < 0) return survivors.ids[i]!;
  }
  return survivors.ids[survivors.ids.length - 1]!;
}

function logSumExp(values: ArrayLike<number>, count: number): number {
  let max = -Infinity;
  for (let i = 0; i < count; i++) max = Math.max(max, values[i]!);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += Math.exp(values[i]! - max);
  return max + Math.log(sum);
}

/** Sorts a full logits row into Candidates (the 'need-all' path and CPU fallbacks). */
export function candidatesFromRow(row: Float32Array): Candidates {
  const ids = Array.from(row.keys()).filter((i) => !Number.isNaN(row[i]!));
  ids.sort((a, b) => row[b]! - row[a]! || a - b);
  return { ids, logits: ids.map((i) => row[i]!), logSumExp: logSumExp(ids.map((i) => row[i]!), ids.length), complete: true };
}

/**
 * Token selection from a whole logits row on the CPU, for engines whose logits are in JS memory (the
 * onnxruntime backends). The same chain as the GPU TokenSelector (token_selector.ts): logit bias and
 * penalties (adjustLogit), then greedy argmax, or the K best candidates plus log Σ exp over the whole row
 * (filterCandidates) and a draw — falling back to the fully sorted row only when the candidates cannot
 * decide, as the GPU path reads the whole row back. Sorting 150k logits per token would cost more than a
 * small model's forward pass, hence the candidate step.
 */
import { adjustLogit, candidatesFromRow, drawToken, filterCandidates, logitAdjustments, type Random, type SamplingParams } from './sampler';

/** Candidates taken when sampling without a top_k (the GPU path's DEFAULT_CANDIDATES). */
const DEFAULT_CANDIDATES = 64;

export function selectFromRow(logits: Float32Array, p: SamplingParams, history: readonly number[], rng: Random): number {
  const adj = logitAdjustments(p, history);
  let row = logits;
  if (adj.length > 0) {
    row = logits.slice();
    for (const a of adj) row[a.id] = adjustLogit(row[a.id]!, a, p);
  }
  if (p.temperature <= 0) return argmax(row);
  const k = Math.min(row.length, p.topK > 0 ? p.topK : DEFAULT_CANDIDATES);
  const candidates = { ...topK(row, k), logSumExp: logSumExp(row), complete: k === row.length };
  let survivors = filterCandidates(candidates, p);
  if (survivors === 'need-all') survivors = filterCandidates(candidatesFromRow(row), p);
  if (survivors === 'need-all') throw new Error('unreachable: a complete row always decides');
  return drawToken(survivors, p.temperature, rng);
}

/** Index of the largest logit (ties: the lowest id), NaN never chosen. */
export function argmax(row: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < row.length; i++) if (best < 0 ? !Number.isNaN(row[i]!) : row[i]! > row[best]!) best = i;
  return Math.max(best, 0);
}

/** The k largest logits, sorted descending (ties by lower id): a bounded insertion list, O(n·log k)-ish. */
function topK(row: Float32Array, k: number): { ids: number[]; logits: number[] } {
  const ids: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (Number.isNaN(v) || (vals.length === k && v <= vals[k - 1]!)) continue;
    let at = vals.length;
    while (at > 0 && vals[at - 1]! < v) at--;
    vals.splice(at, 0, v);
    ids.splice(at, 0, i);
    if (vals.length > k) {
      vals.pop();
      ids.pop();
    }
  }
  return { ids, logits: vals };
}

function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

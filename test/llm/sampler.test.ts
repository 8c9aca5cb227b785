// The CPU half of sampling against a reference written here: llama.cpp's default chain
// (top_k → top_p → min_p → temperature → draw) applied to the FULL logits row. The engine only sees the
// GPU's top-K candidates; whenever it does not answer 'need-all', its survivors must equal the reference's.
import { describe, expect, it } from 'vitest';
import { adjustLogit, DEFAULT_SAMPLING, drawToken, filterCandidates, logitAdjustments, Random, type Candidates, type SamplingParams } from '../../src/llm/sampler';
import { rng } from '../random';

function params(p: Partial<SamplingParams>): SamplingParams {
  return { ...DEFAULT_SAMPLING, seed: 1, logitBias: new Map(), ...p };
}

/** llama.cpp's chain on the whole vocabulary, in float64, written from its sampler definitions. */
function referenceSurvivors(row: Float64Array, p: SamplingParams): number[] {
  let ids = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
  if (p.topK > 0) ids = ids.slice(0, p.topK);
  if (p.topP < 1) {
    const max = row[ids[0]!]!;
    const w = ids.map((i) => Math.exp(row[i]! - max));
    const z = w.reduce((a, b) => a + b, 0);
    let cum = 0;
    let keep = ids.length;
    for (let i = 0; i < ids.length; i++) {
      cum += w[i]! / z;
      if (cum >= p.topP) {
        keep = i + 1;
        break;
      }
    }
    ids = ids.slice(0, keep);
  }
  if (p.minP > 0) {
    const max = row[ids[0]!]!;
    ids = ids.filter((i, k) => k === 0 || Math.exp(row[i]! - max) >= p.minP);
  }
  return ids;
}

function topCandidates(row: Float64Array, k: number): Candidates {
  const ids = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b);
  const max = row[ids[0]!]!;
  const lse = max + Math.log(Array.from(row).reduce((s, v) => s + Math.exp(v - max), 0));
  const top = ids.slice(0, k);
  return { ids: top, logits: top.map((i) => row[i]!), logSumExp: lse, complete: k >= row.length };
}

describe('filterCandidates', () => {
  it('equals the full-vocabulary chain whenever it does not ask for the whole row', () => {
    const r = rng(11);
    let decided = 0;
    let needAll = 0;
    for (let trial = 0; trial < 600; trial++) {
      const vocab = 50 + Math.floor(r() * 400);
      const spread = [0.3, 2, 6][trial % 3]!; // flat, medium, peaked distributions
      const row = Float64Array.from({ length: vocab }, () => (r() * 2 - 1) * spread);
      const p = params({
        topK: [0, 1, 5, 40, 100][Math.floor(r() * 5)]!,
        topP: [1, 0.5, 0.9, 0.95][Math.floor(r() * 4)]!,
        minP: [0, 0.01, 0.05, 0.2][Math.floor(r() * 4)]!,
      });
      const got = filterCandidates(topCandidates(row, 64), p);
      if (got === 'need-all') {
        needAll++;
        // The full row always decides.
        const full = filterCandidates(topCandidates(row, vocab), p);
        expect(full).not.toBe('need-all');
        if (full !== 'need-all') expect(full.ids).toEqual(referenceSurvivors(row, p));
        continue;
      }
      decided++;
      expect(got.ids).toEqual(referenceSurvivors(row, p));
    }
    expect(decided).toBeGreaterThan(300);
    expect(needAll).toBeGreaterThan(0);
  });
});

describe('drawToken', () => {
  it('is argmax at temperature 0', () => {
    expect(drawToken({ ids: [7, 3, 9], logits: [2, 1, 0] }, 0, new Random(1))).toBe(7);
  });

  it('draws with softmax(logits / T) frequencies', () => {
    const survivors = { ids: [0, 1, 2, 3], logits: [1.0, 0.5, 0.0, -1.0] };
    const T = 0.7;
    const w = survivors.logits.map((l) => Math.exp(l / T));
    const z = w.reduce((a, b) => a + b, 0);
    const rand = new Random(42);
    const n = 40000;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[drawToken(survivors, T, rand)]!++;
    // Chi-square with 3 degrees of freedom: 16.3 is the 0.1% critical value.
    const chi2 = counts.reduce((s, c, i) => s + (c - (n * w[i]!) / z) ** 2 / ((n * w[i]!) / z), 0);
    expect(chi2).toBeLessThan(16.3);
  });

  it('same seed, same sequence; different seed, different sequence', () => {
    const seq = (seed: number) => {
      const g = new Random(seed);
      return Array.from({ length: 20 }, () => g.next());
    };
    expect(seq(5)).toEqual(seq(5));
    expect(seq(5)).not.toEqual(seq(6));
    for (const v of seq(123)) expect(v >= 0 && v < 1).toBe(true);
  });
});

describe('penalties and logit bias', () => {
  it('counts tokens in the penalty window and applies llama.cpp / OpenAI formulas', () => {
    const p = params({ repetitionPenalty: 1.3, presencePenalty: 0.5, frequencyPenalty: 0.25, penaltyLastN: 4, logitBias: new Map([[9, -100], [2, 1.5]]) });
    const adj = logitAdjustments(p, [1, 1, 5, 2, 2, 2]); // window = last 4: [5, 2, 2, 2]
    const byId = new Map(adj.map((a) => [a.id, a]));
    expect(byId.has(1)).toBe(false);
    expect(byId.get(5)).toEqual({ id: 5, count: 1, bias: 0 });
    expect(byId.get(2)).toEqual({ id: 2, count: 3, bias: 1.5 });
    expect(byId.get(9)).toEqual({ id: 9, count: 0, bias: -100 });
    // positive logit divided, negative multiplied, then frequency × count + presence subtracted
    expect(adjustLogit(2.6, byId.get(5)!, p)).toBeCloseTo(2.6 / 1.3 - 0.25 - 0.5, 12);
    expect(adjustLogit(-1, byId.get(5)!, p)).toBeCloseTo(-1.3 - 0.75, 12);
    expect(adjustLogit(1, byId.get(2)!, p)).toBeCloseTo((1 + 1.5) / 1.3 - 0.75 - 0.5, 12);
    expect(adjustLogit(3, byId.get(9)!, p)).toBeCloseTo(-97, 12);
  });

  it('has no adjustments when penalties are off and no bias is given', () => {
    expect(logitAdjustments(params({}), [1, 2, 3])).toEqual([]);
  });
});

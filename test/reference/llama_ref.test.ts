// The exact float64 reference (llama_ref.ts) against llama.cpp (node-llama-cpp, run here) and against the
// fixture's recorded exact references. llama.cpp computes in f32 — and, for quantized weights, with
// activations quantized to 8 bits — so on f32/f16 files we expect logits within ~2e-3 and identical greedy
// runs; on quantized files and synthetic quantized models, per-position agreement along llama.cpp's tokens.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeSyntheticModel, type SyntheticModelOptions } from './gguf_writer';
import { argmax, loadReference, type Reference } from './llama_ref';
import { greedy as llamaGreedy, logitsAt, logProb, perplexity, tokenize } from './llamacpp';

const FIXTURE = '../shared/models/fortunes-1.8m';
const fixture = (variant: string) => `${FIXTURE}/fortunes-1.8m-${variant}.gguf`;

interface RecordedPrompt {
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  first_top8_logits: [number, number][];
}
const recorded = (variant: string): RecordedPrompt[] =>
  JSON.parse(readFileSync(`${FIXTURE}/reference/llamacpp-${variant}.json`, 'utf8')).prompts;
const recordedExact = (variant: string): { prompt: string; greedy_ids: number[] }[] =>
  JSON.parse(readFileSync(`${FIXTURE}/reference/exact-${variant}.json`, 'utf8')).prompts;

const refs = new Map<string, Reference>();
const ref = (path: string) => {
  let r = refs.get(path);
  if (!r) refs.set(path, (r = loadReference(path)));
  return r;
};

/** Per-position comparison of two logit sequences: largest |diff|, argmax agreement, and agreement where the reference's top-2 gap exceeds `margin`. */
function comparePositions(ours: ArrayLike<number>[], theirs: ArrayLike<number>[], margin: number) {
  let maxDiff = 0;
  let agree = 0;
  let decisive = 0;
  let decisiveAgree = 0;
  for (let p = 0; p < ours.length; p++) {
    const a = ours[p]!;
    const b = theirs[p]!;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    const top = argmax(a);
    const same = top === argmax(b);
    if (same) agree++;
    let second = -Infinity;
    for (let i = 0; i < a.length; i++) if (i !== top) second = Math.max(second, a[i]!);
    if (a[top]! - second > margin) {
      decisive++;
      if (same) decisiveAgree++;
    }
  }
  return { maxDiff, agree: agree / ours.length, decisive, decisiveAgree };
}

describe('exact reference vs llama.cpp on the fortunes fixture (f32, f16)', () => {
  for (const variant of ['f32', 'f16']) {
    it(`${variant}: same prompt tokens, same 32-token greedy runs, top logits within 5e-3`, async () => {
      const path = fixture(variant);
      const r = ref(path);
      let worstTop = 0;
      let worstAll = 0;
      for (const rec of recorded(variant)) {
        // The prompt ids in the recording are llama.cpp's tokenizer's: check them live, then use them.
        expect(await tokenize(path, rec.prompt)).toEqual(rec.prompt_ids);
        const ours = r.greedy(rec.prompt_ids, 32);
        const theirs = await llamaGreedy(path, rec.prompt_ids, 32);
        expect(ours, rec.prompt).toEqual(theirs);
        expect(theirs, `live llama.cpp vs recorded (${rec.prompt})`).toEqual(rec.greedy_ids);
        // Logits at every position along the whole sequence.
        const seq = [...rec.prompt_ids, ...ours.slice(0, -1)];
        const a = r.logits(seq);
        const b = await logitsAt(path, seq);
        for (let p = 0; p < seq.length; p++) {
          const top8 = [...b[p]!.keys()].sort((x, y) => b[p]![y]! - b[p]![x]!).slice(0, 8);
          for (const t of top8) worstTop = Math.max(worstTop, Math.abs(a[p]![t]! - b[p]![t]!));
          for (let t = 0; t < a[p]!.length; t++) worstAll = Math.max(worstAll, Math.abs(a[p]![t]! - b[p]![t]!));
        }
        // And the recorded top-8 at the first generated position.
        const first = a[rec.prompt_ids.length - 1]!;
        for (const [t, v] of rec.first_top8_logits) expect(Math.abs(first[t]! - v)).toBeLessThan(5e-3);
      }
      console.log(`${variant}: max |logit diff| vs llama.cpp: top-8 ${worstTop.toExponential(2)}, all ${worstAll.toExponential(2)}`);
      // f32 weights: llama.cpp's f32 math (F32 KV cache) agrees to ~3e-6. f16 weights: it rounds activations to
      // f16 before the dot products, ~3e-3.
      expect(worstTop).toBeLessThan(variant === 'f32' ? 1e-4 : 5e-3);
      expect(worstAll).toBeLessThan(variant === 'f32' ? 1e-4 : 1e-2);
    });
  }
});

describe('the comparison is sensitive', () => {
  it('a reference with the wrong rope convention disagrees with llama.cpp', async () => {
    const path = fixture('f32');
    const wrong = loadReference(path);
    wrong.config.ropeStyle = 'halves';
    const seq = recorded('f32')[0]!.prompt_ids;
    const a = wrong.logits(seq);
    const b = await logitsAt(path, seq);
    expect(comparePositions(a, b, 0).maxDiff).toBeGreaterThan(0.1);
  });
});

describe('perplexity on the held-out text', () => {
  it('f32: the llama.cpp helper gives the recorded 52.85, and the exact reference agrees with it', async () => {
    // "4096 tokens" in the recording counts predictions: the first 4097 ids, windows of 128 (see perplexity()).
    const ids: number[] = JSON.parse(readFileSync(`${FIXTURE}/reference/heldout_ids.json`, 'utf8')).slice(0, 4097);
    const expected = JSON.parse(readFileSync(`${FIXTURE}/reference/llamacpp-f32.json`, 'utf8')).perplexity.ppl as number;
    const theirs = await perplexity(fixture('f32'), ids, 128);
    expect(Math.abs(theirs - expected)).toBeLessThan(1e-3);
    // The float64 reference is slow on a shared CPU: compare it on the first 1024 predictions only.
    const head = ids.slice(0, 1025);
    const r = ref(fixture('f32'));
    let nll = 0;
    let n = 0;
    for (let start = 0; start + 1 < head.length; start += 128) {
      const context = head.slice(start, Math.min(head.length - 1, start + 128));
      const rows = r.logits(context);
      for (let i = 0; i < context.length; i++, n++) nll -= logProb(rows[i]!, head[start + i + 1]!);
    }
    expect(n).toBe(1024);
    const ours = Math.exp(nll / n);
    const theirsHead = await perplexity(fixture('f32'), head, 128);
    console.log(`perplexity f32: llama.cpp ${theirs.toFixed(4)} (recorded ${expected}); first 1024: llama.cpp ${theirsHead.toFixed(5)}, exact reference ${ours.toFixed(5)}`);
    expect(Math.abs(ours - theirsHead)).toBeLessThan(1e-4 * theirsHead);
  });
});

describe('exact reference vs the recorded exact references (all fixture variants)', () => {
  for (const variant of ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k_m']) {
    it(`${variant}: greedy ids up to EOS equal exact-${variant}.json`, () => {
      const r = ref(fixture(variant));
      const prompts = recorded(variant);
      for (const rec of recordedExact(variant)) {
        const ids = prompts.find((p) => p.prompt === rec.prompt)!.prompt_ids;
        const ours = r.greedy(ids, 32, 1023);
        // The recording stops before EOS (and holds at most 32 ids).
        const untilEos = ours[ours.length - 1] === 1023 ? ours.slice(0, -1) : ours;
        expect(untilEos, rec.prompt).toEqual(rec.greedy_ids);
      }
    });
  }
});

describe('exact reference vs llama.cpp per position on the quantized fixtures', () => {
  for (const variant of ['q8_0', 'q4_0', 'q4_k_m']) {
    it(`${variant}: next-token choices agree along llama.cpp's own greedy tokens`, async () => {
      const path = fixture(variant);
      const r = ref(path);
      const ours: Float64Array[] = [];
      const theirs: Float32Array[] = [];
      for (const rec of recorded(variant)) {
        const seq = [...rec.prompt_ids, ...rec.greedy_ids.slice(0, -1)];
        ours.push(...r.logits(seq));
        theirs.push(...(await logitsAt(path, seq)));
      }
      const c = comparePositions(ours, theirs, 0.2);
      console.log(`${variant}: ${ours.length} positions, argmax agreement ${(100 * c.agree).toFixed(1)}%, ` +
        `decisive (gap > 0.2) ${c.decisiveAgree}/${c.decisive}, max |logit diff| ${c.maxDiff.toFixed(3)}`);
      expect(c.agree).toBeGreaterThan(0.95);
      expect(c.decisiveAgree).toBe(c.decisive);
      expect(c.maxDiff).toBeLessThan(0.5);
    });
  }
});

interface SyntheticCase {
  what: string;
  options: SyntheticModelOptions;
  /**
   * 'f32': llama.cpp's math is f32 throughout (F32 KV cache): logits within 1e-4.
   * 'f16': llama.cpp rounds activations to f16 for F16 weights: within 1e-3 of the logit range, same greedy run.
   * 'quant': llama.cpp quantizes activations to 8 bits: agreement wherever the top-2 gap is clear.
   */
  kind: 'f32' | 'f16' | 'quant';
}

const SYNTHETIC: SyntheticCase[] = [
  { what: 'llama, F32, tied, gpt2 tokenizer', kind: 'f32', options: { architecture: 'llama', seed: 1 } },
  { what: 'llama, F16, untied, SentencePiece tokenizer, rope_freqs', kind: 'f16',
    options: { architecture: 'llama', weightType: 'F16', tiedOutput: false, tokenizer: { model: 'llama' }, ropeFreqs: true, nLayers: 3, seed: 2 } },
  { what: 'qwen2, F32, biases, untied', kind: 'f32', options: { architecture: 'qwen2', tiedOutput: false, seed: 3 } },
  { what: 'llama, Q8_0 / Q4_0, untied, llama-bpe, MHA', kind: 'quant',
    options: { architecture: 'llama', weightType: 'Q8_0', types: { ffn_down: 'Q4_0', attn_v: 'Q4_0' }, tiedOutput: false, nKvHeads: 4, tokenizer: { model: 'gpt2', pre: 'llama-bpe' }, seed: 4 } },
  { what: 'qwen2, Q4_K / Q6_K, biases, untied', kind: 'quant',
    options: { architecture: 'qwen2', dModel: 256, nHeads: 4, nKvHeads: 2, dFf: 512, weightType: 'Q4_K', types: { ffn_down: 'Q6_K', output: 'Q6_K', token_embd: 'Q6_K' }, tiedOutput: false, seed: 5 } },
];

describe('exact reference vs llama.cpp on synthetic models', () => {
  for (const c of SYNTHETIC) {
    it(c.what, async () => {
      const m = writeSyntheticModel(c.options);
      const r = ref(m.path);
      const prompt = await tokenize(m.path, 'The quick brown fox jumps over the lazy dog. Hello world!');
      // Along llama.cpp's own greedy continuation, so both see the same tokens.
      const cont = await llamaGreedy(m.path, prompt, 24);
      const seq = [...prompt, ...cont.slice(0, -1)];
      const ours = r.logits(seq);
      const theirs = await logitsAt(m.path, seq);
      const cmp = comparePositions(ours, theirs, c.kind === 'quant' ? 0.3 : 0.01);
      let spread = 0;
      for (const row of ours) spread = Math.max(spread, Math.max(...row) - Math.min(...row));
      console.log(`${c.what}: ${seq.length} positions, logit range ${spread.toFixed(1)}, max |diff| ${cmp.maxDiff.toExponential(2)}, ` +
        `argmax agreement ${(100 * cmp.agree).toFixed(1)}%, decisive ${cmp.decisiveAgree}/${cmp.decisive}`);
      if (c.kind !== 'quant') {
        expect(cmp.maxDiff).toBeLessThan(c.kind === 'f32' ? 1e-4 : 1e-3 * spread);
        expect(r.greedy(prompt, 24)).toEqual(cont);
      } else {
        expect(cmp.maxDiff).toBeLessThan(0.05 * spread);
        expect(cmp.decisiveAgree).toBe(cmp.decisive);
        expect(cmp.decisive).toBeGreaterThan(seq.length / 2);
      }
    });
  }
});

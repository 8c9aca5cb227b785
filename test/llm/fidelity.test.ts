// The engine (our WGSL kernels on WebGPU) against two independent references, on every fixture file:
//  - the exact reference (test/reference/llama_ref.ts: weights dequantized per the GGUF spec, float64
//    forward pass; itself validated against llama.cpp in test/reference/llama_ref.test.ts);
//  - llama.cpp through node-llama-cpp, run here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/llm/load_model';
import type { LanguageModel } from '../../src/llm/language_model';
import { loadReference, type Reference } from '../reference/llama_ref';
import * as llamacpp from '../reference/llamacpp';
import { greedyAgainstExact, logitsAgainstExact, perplexity, top1AlongLlamaCpp } from '../reference/compare';
import { nodeGPU } from '../gpu';
import { fixtureBytes, fixturePath, heldoutIds, promptSet, VARIANTS, type Variant } from './fixtures';

const EOS = 1023;
const quantized = (v: Variant) => v !== 'f32' && v !== 'f16';

for (const variant of VARIANTS) {
  describe(`fortunes-1.8m-${variant}`, () => {
    let llm: LanguageModel;
    let ref: Reference;
    const path = fixturePath(variant);
    const prompts = promptSet();

    beforeAll(async () => {
      llm = await loadModel({ bytes: fixtureBytes(variant), gpu: nodeGPU() });
      ref = loadReference(path);
    });
    afterAll(async () => {
      await llm?.unload();
    });

    it('tokenizes every prompt exactly as llama.cpp does', async () => {
      for (const p of prompts) expect(llm.tokenizer.encode(p)).toEqual(await llamacpp.tokenize(path, p));
    });

    it('greedy 32-token continuations equal the exact reference on ≥ 95% of prompts', async () => {
      const { equal, differing } = await greedyAgainstExact(llm, ref, path, prompts, EOS);
      console.log(`${variant}: ${equal}/${prompts.length} greedy continuations equal the exact reference`, differing);
      expect(equal / prompts.length).toBeGreaterThanOrEqual(0.95);
    });

    it('logits agree with the exact reference at every position', async () => {
      // Tolerance: our weights are dequantized exactly as the reference's, so the only difference is f32
      // rounding in dot products of a few hundred terms (measured ≈ 1e-5 on logits spanning about ±20).
      // The f16-activation path (devices with shader-f16) rounds every activation to 11 bits: 5e-2 there.
      const tolerance = llm.info.precision === 'f16' ? 5e-2 : 2e-4;
      const { worst } = await logitsAgainstExact(llm, ref, prompts.slice(0, 6));
      console.log(`${variant}: max |logit - exact| = ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(tolerance);
    });

    it(`forced along llama.cpp's greedy tokens, our top-1 agrees at ≥ ${quantized(variant) ? 98 : 99.5}% of positions`, async () => {
      const { agree, total } = await top1AlongLlamaCpp(llm, path, prompts, EOS);
      const rate = agree / total;
      console.log(`${variant}: top-1 agreement with llama.cpp ${(100 * rate).toFixed(2)}% of ${total} positions`);
      expect(rate).toBeGreaterThanOrEqual(quantized(variant) ? 0.98 : 0.995);
    });

    it('perplexity on the held-out text is within 1% of llama.cpp', async () => {
      const ids = heldoutIds().slice(0, 4097); // 4096 predictions in windows of 128, as the recorded figures
      const window = 128;
      const ours = await perplexity(llm, ids, window);
      const theirs = await llamacpp.perplexity(path, ids, window);
      console.log(`${variant}: perplexity ours ${ours.toFixed(3)}, llama.cpp ${theirs.toFixed(3)}`);
      expect(Math.abs(ours - theirs) / theirs).toBeLessThan(0.01);
    });
  });
}

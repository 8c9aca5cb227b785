/**
 * The fidelity checks of a GGUF file as llama.cpp's quantizer writes it (test/reference/llamacpp_files.ts),
 * through the public API on our kernels, against the file's own exact answer and against llama.cpp on the
 * same file:
 *  - greedy 32-token continuations equal the exact reference's on ≥ 95% of prompts, where the exact
 *    reference is the float64 forward pass (test/reference/llama_ref.ts) on the file as llama.cpp itself
 *    dequantizes it (ggml's to_float), not on weights we decoded;
 *  - top-1 agreement with llama.cpp along its own greedy continuation ≥ 98% (llama.cpp rounds activations to
 *    8 bits for quantized weights) or ≥ 99.5% (BF16), and never below the exact reference's own agreement.
 *    Where llama.cpp's 8-bit activations flip more near-ties than that (fortunes Q5_1: 97.81% for the exact
 *    answer itself, Q8_1 activations against 5-bit weights), the bar is the exact answer's: the gap is then
 *    llama.cpp's rounding, not ours, and a defect of ours would still show as falling below it;
 *  - optionally, perplexity within 1% of llama.cpp's on held-out text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu';
import type { LanguageModel } from '../../src/llm/language_model';
import { loadModel } from '../../src/llm/load_model';
import { greedyAgainstExact, perplexity, top1AlongLlamaCpp } from '../reference/compare';
import { loadReference, type Reference } from '../reference/llama_ref';
import * as llamacpp from '../reference/llamacpp';
import { llamaCppFile, type PublishedFileType } from '../reference/llamacpp_files';
import { makeGpu } from '../gpu';

export interface FileTypeSuite {
  /** The F32 model the files are quantized from. */
  base: () => string;
  eos: () => number;
  prompts: readonly string[];
  fileTypes: readonly PublishedFileType[];
  /** Held-out token ids for the perplexity check (omit to skip it). */
  heldout?: () => number[];
  /** Weight types each file must contain (a check that the file exercises what the suite is for). */
  mustContain: Partial<Record<PublishedFileType, string[]>>;
}

export function fileTypeSuite(name: string, s: FileTypeSuite): void {
  // One device for every file, so the kernel variants they share are compiled once (SwiftShader compiles
  // slowly); f32 activations, which the thresholds are for.
  let gpuPromise: Promise<Gpu> | undefined;
  const sharedGpu = () => (gpuPromise ??= makeGpu({ precision: 'f32' }));
  afterAll(async () => (await gpuPromise)?.destroy());

  for (const ftype of s.fileTypes) {
    describe(`${name} ${ftype} (llama.cpp's quantizer)`, () => {
      let llm: LanguageModel;
      let ref: Reference;
      let path: string;

      beforeAll(async () => {
        const file = llamaCppFile(s.base(), ftype);
        path = file.path;
        llm = await loadModel({ bytes: file.bytes(), gpu: await sharedGpu() });
        ref = loadReference(file.exact);
      });
      afterAll(async () => {
        await llm?.unload();
      });

      it(`loads, with the weight types llama.cpp wrote (${(s.mustContain[ftype] ?? []).join(', ')} among them)`, () => {
        console.log(`${name} ${ftype}: ${JSON.stringify(llm.info.weightTypes)}`);
        for (const t of s.mustContain[ftype] ?? []) expect(Object.keys(llm.info.weightTypes)).toContain(t);
      });

      it('greedy 32-token continuations equal the exact reference on ≥ 95% of prompts', async () => {
        const { equal, differing } = await greedyAgainstExact(llm, ref, path, s.prompts, s.eos());
        console.log(`${name} ${ftype}: ${equal}/${s.prompts.length} greedy continuations equal the exact reference`, differing);
        expect(equal / s.prompts.length).toBeGreaterThanOrEqual(0.95);
      });

      const threshold = ftype === 'BF16' ? 0.995 : 0.98;
      it(`forced along llama.cpp's greedy tokens, our top-1 agrees at ≥ ${100 * threshold}% of positions (or as often as the exact answer)`, async () => {
        const { agree, exactAgree, total } = await top1AlongLlamaCpp(llm, path, s.prompts, s.eos(), { exact: (t) => ref.logits(t) });
        console.log(`${name} ${ftype}: top-1 agreement with llama.cpp ${((100 * agree) / total).toFixed(2)}% of ${total} positions (exact reference: ${((100 * exactAgree) / total).toFixed(2)}%)`);
        expect(agree).toBeGreaterThanOrEqual(exactAgree);
        expect(agree / total).toBeGreaterThanOrEqual(Math.min(threshold, exactAgree / total));
        expect(exactAgree / total).toBeGreaterThanOrEqual(0.975); // the exact answer itself: llama.cpp's rounding is bounded
      });

      if (s.heldout) {
        it('perplexity on the held-out text is within 1% of llama.cpp', async () => {
          const ids = s.heldout!();
          const ours = await perplexity(llm, ids, 128);
          const theirs = await llamacpp.perplexity(path, ids, 128);
          console.log(`${name} ${ftype}: perplexity ours ${ours.toFixed(3)}, llama.cpp ${theirs.toFixed(3)}`);
          expect(Math.abs(ours - theirs) / theirs).toBeLessThan(0.01);
        });
      }
    });
  }
}

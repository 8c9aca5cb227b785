// GGUF models on onnxruntime-web's WASM execution provider (src/backends/ort: the GGUF→ONNX export, the
// OrtDecoder runner and the shared generation loop), against the same independent references as the
// native engine's fidelity tests:
//  - the block repacking, decoded here with MatMulNBits' definition ((u − zero_point)·scale, 4-bit element
//    2i in the low nibble of byte i), against test/reference/ggml_quants.ts's dequantization;
//  - the exact reference (test/reference/llama_ref.ts: float64 forward pass) for logits and greedy
//    continuations; llama.cpp (node-llama-cpp, run here) for forced-path top-1 agreement and perplexity.
// Measured (numThreads 1) on all five fixture files, with MatMulNBits and with f32 MatMul weights alike:
// 20/20 continuations equal the exact reference, logits within 1.1e-5 of it (f32 rounding: no weight
// changes but Q4_K's, whose float zero points round at 1e-7), top-1 agreement with llama.cpp 100% (f32,
// f16), 99.51% (q8_0), 98.58% (q4_0), 98.78% (q4_k_m), perplexity within 0.08% of llama.cpp's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { ModelFileError } from '../../src/errors';
import { openGguf } from '../../src/formats/gguf';
import { modelConfigFromGguf } from '../../src/llm/config';
import type { LanguageModel } from '../../src/llm/language_model';
import { exportGgufToOnnx } from '../../src/backends/ort/gguf_to_onnx';
import { loadOrtModelFrom } from '../../src/backends/ort/load_ort_model';
import { repack } from '../../src/backends/ort/repack';
import { dequantizeMatrix, randomQuantMatrix, type QuantType } from '../reference/ggml_quants';
import { loadReference, type Reference } from '../reference/llama_ref';
import * as llamacpp from '../reference/llamacpp';
import { greedyAgainstExact, logitsAgainstExact, maxAbs, maxDiff, perplexity, top1AlongLlamaCpp } from '../reference/compare';
import { fixtureBytes, fixturePath, heldoutIds, promptSet, VARIANTS, type Variant } from '../llm/fixtures';
import { buildSyntheticModel, SYNTHETIC_CASES, SYNTHETIC_PROMPTS, type BuiltModel } from '../llm/synthetic_models';

ort.env.wasm.numThreads = 1; // the test machines have two shared cores

const EOS = 1023;

/** MatMulNBits' weight definition (onnxruntime docs/ContribOperators.md), written out here. */
function decodeNBits(p: ReturnType<typeof repack>): Float64Array {
  if (p.kind !== 'nbits') throw new Error('expected a MatMulNBits matrix');
  const nb = p.cols / p.blockSize;
  const blob = (p.blockSize * p.bits) / 8;
  const w = new Float64Array(p.rows * p.cols);
  for (let n = 0; n < p.rows; n++) {
    for (let b = 0; b < nb; b++) {
      const scale = p.scales[n * nb + b]!;
      const zp = p.zeroPoints ? p.zeroPoints[n * nb + b]! : 2 ** (p.bits - 1);
      for (let j = 0; j < p.blockSize; j++) {
        const byte = p.data[(n * nb + b) * blob + (p.bits === 4 ? j >> 1 : j)]!;
        const u = p.bits === 4 ? (j & 1 ? byte >> 4 : byte & 15) : byte;
        w[n * p.cols + b * p.blockSize + j] = (u - zp) * scale;
      }
    }
  }
  return w;
}

describe('GGUF blocks → MatMulNBits', () => {
  const rows = 5, cols = 512;
  for (const type of ['Q4_0', 'Q8_0', 'Q6_K', 'Q5_0', 'Q3_K', 'IQ4_NL', 'IQ4_XS'] as QuantType[]) {
    it(`${type} repacks without changing a single weight`, () => {
      const bytes = randomQuantMatrix(type, rows, cols, 7);
      const packed = repack(type, bytes, rows, cols);
      expect(packed.kind).toBe('nbits');
      const ours = decodeNBits(packed);
      const exact = dequantizeMatrix(type, bytes, rows, cols);
      for (let i = 0; i < exact.length; i++) if (ours[i] !== exact[i]) expect.fail(`${type} weight ${i}: ${ours[i]} vs ${exact[i]}`);
    });
  }

  it('Q4_K repacks with float zero points, within f32 rounding (1e-6 of the largest weight)', () => {
    const bytes = randomQuantMatrix('Q4_K', rows, cols, 9);
    // No sub-block with scale 0 (set bit 0 of each 6-bit scale: bytes 0-3 hold scales 0-3, the low nibbles
    // of bytes 8-11 scales 4-7; the mins are untouched).
    for (let b = 0; b < bytes.length; b += 144) for (const k of [0, 1, 2, 3, 8, 9, 10, 11]) bytes[b + 4 + k]! |= 1;
    const packed = repack('Q4_K', bytes, rows, cols);
    const exact = dequantizeMatrix('Q4_K', bytes, rows, cols);
    expect(packed.kind === 'nbits' && packed.zeroPoints !== undefined).toBe(true);
    expect(maxDiff(decodeNBits(packed), exact)).toBeLessThan(1e-6 * maxAbs(exact));
  });

  it('Q4_K with a constant sub-block (scale 0, min ≠ 0) falls back to exact f32 weights', () => {
    const bytes = randomQuantMatrix('Q4_K', rows, cols, 9);
    bytes[4 + 0] = 0; // block 0, sub-block 0: scale 0 …
    bytes[4 + 4] = 5; // … and min 5
    const packed = repack('Q4_K', bytes, rows, cols);
    expect(packed.kind).toBe('float');
    const exact = dequantizeMatrix('Q4_K', bytes, rows, cols);
    expect(maxDiff(packed.data, exact)).toBeLessThan(1e-7 * maxAbs(exact)); // f32 rounding of d·sc·q − dmin·m
  });

  for (const type of ['Q4_1', 'Q2_K'] as QuantType[]) {
    it(`${type} repacks with float zero points, within f32 rounding (1e-6 of the largest weight)`, () => {
      const bytes = randomQuantMatrix(type, rows, cols, 9);
      if (type === 'Q2_K') for (let b = 0; b < bytes.length; b += 84) for (let i = 0; i < 16; i++) bytes[b + i]! |= 1; // no scale 0
      const packed = repack(type, bytes, rows, cols);
      expect(packed.kind === 'nbits' && packed.zeroPoints !== undefined).toBe(true);
      const exact = dequantizeMatrix(type, bytes, rows, cols);
      expect(maxDiff(decodeNBits(packed), exact)).toBeLessThan(1e-6 * maxAbs(exact));
    });
  }

  for (const type of ['F16', 'BF16', 'Q5_1', 'Q5_K'] as QuantType[]) {
    it(`${type} becomes f32 exactly as ggml's to_float computes it (the reference, rounded once to f32)`, () => {
      const bytes = randomQuantMatrix(type, rows, cols, 3);
      const packed = repack(type, bytes, rows, cols);
      expect(packed.kind).toBe('float');
      const exact = dequantizeMatrix(type, bytes, rows, cols);
      // ggml rounds d·q (+ m) in f32; the reference is float64: one f32 rounding of the largest term apart.
      expect(maxDiff(packed.data, exact)).toBeLessThanOrEqual(2 ** -23 * maxAbs(exact));
    });
  }

  it('a weight type no backend runs fails with UnsupportedQuantType, in repack and in the export', async () => {
    const err = (() => {
      try {
        repack('IQ2_XXS', new Uint8Array(66 * 4), 4, 256, 'blk.0.attn_q.weight');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ModelFileError);
    expect((err as ModelFileError).code).toBe('UnsupportedQuantType');
    expect((err as Error).message).toMatch(/blk\.0\.attn_q\.weight is IQ2_XXS/);

    // A real file with one tensor's type swapped for one the exporter does not map.
    const bytes = fixtureBytes('q4_0');
    const file = await openGguf({ bytes });
    const config = modelConfigFromGguf(file.metadata, file.tensors);
    const swapped = { ...file, tensors: file.tensors.map((t) => (t.name === 'blk.1.ffn_up.weight' ? { ...t, type: 'MXFP4' as never } : t)) };
    await expect(exportGgufToOnnx(swapped, { bytes }, config)).rejects.toMatchObject({ code: 'UnsupportedQuantType' });
  });
});

/**
 * Stated tolerances per fixture type. Every type's weights reach onnxruntime unchanged (Q4_K up to f32
 * rounding of its float zero points), so all get the native engine's thresholds: continuations equal the
 * exact reference on ≥ 95% of prompts, logits within 2e-4, top-1 agreement with llama.cpp ≥ 98% (quantized:
 * llama.cpp rounds activations to 8 bits) or ≥ 99.5%, perplexity within 1% of llama.cpp's.
 */
const quantized = (v: Variant) => v !== 'f32' && v !== 'f16';

for (const variant of VARIANTS) {
  describe(`ORT WASM: fortunes-1.8m-${variant}`, () => {
    let llm: LanguageModel;
    let ref: Reference;
    const path = fixturePath(variant);
    const prompts = promptSet();

    beforeAll(async () => {
      llm = await loadOrtModelFrom(ort, { bytes: fixtureBytes(variant) });
      ref = loadReference(path);
    });
    afterAll(async () => {
      await llm?.unload();
    });

    it('reports the wasm backend (f32 MatMul weights: small enough for WASM memory)', () => {
      expect(llm.info.backend).toBe('wasm');
      expect(llm.info.adapter).toMatch(/onnxruntime-web .*wasm, 1 thread, f32 MatMul/);
    });

    it('greedy 32-token continuations equal the exact reference on ≥ 95% of prompts', async () => {
      const { equal, differing } = await greedyAgainstExact(llm, ref, path, prompts, EOS);
      console.log(`ort-wasm ${variant}: ${equal}/${prompts.length} greedy continuations equal the exact reference`, differing);
      expect(equal / prompts.length).toBeGreaterThanOrEqual(0.95);
    });

    it('logits agree with the exact reference at every position (2e-4)', async () => {
      const { worst } = await logitsAgainstExact(llm, ref, prompts.slice(0, 6));
      console.log(`ort-wasm ${variant}: max |logit - exact| = ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(2e-4);
    });

    it(`forced along llama.cpp's greedy tokens, top-1 agrees at ≥ ${quantized(variant) ? 98 : 99.5}% of positions`, async () => {
      const { agree, total } = await top1AlongLlamaCpp(llm, path, prompts, EOS);
      const rate = agree / total;
      console.log(`ort-wasm ${variant}: top-1 agreement with llama.cpp ${(100 * rate).toFixed(2)}% of ${total} positions`);
      expect(rate).toBeGreaterThanOrEqual(quantized(variant) ? 0.98 : 0.995);
    });

    it('perplexity on the held-out text is within 1% of llama.cpp', async () => {
      const ids = heldoutIds().slice(0, 4097);
      const window = 128;
      const ours = await perplexity(llm, ids, window);
      const theirs = await llamacpp.perplexity(path, ids, window);
      console.log(`ort-wasm ${variant}: perplexity ours ${ours.toFixed(3)}, llama.cpp ${theirs.toFixed(3)} (${((100 * (ours - theirs)) / theirs).toFixed(2)}%)`);
      expect(Math.abs(ours - theirs) / theirs).toBeLessThan(0.01);
    });
  });
}

// The same weights through MatMulNBits (the exporter's default, loadOrtModelFrom's choice when f32 copies
// would not fit WASM memory): Q4_0 / Q8_0 / Q6_K blocks unchanged, Q4_K with float zero points.
for (const variant of ['q8_0', 'q4_0', 'q4_k_m'] as const) {
  describe(`ORT WASM, MatMulNBits weights: fortunes-1.8m-${variant}`, () => {
    let llm: LanguageModel;
    let ref: Reference;
    const path = fixturePath(variant);
    const prompts = promptSet();
    beforeAll(async () => {
      llm = await loadOrtModelFrom(ort, { bytes: fixtureBytes(variant) }, { matmulWeights: 'nbits' });
      ref = loadReference(path);
    });
    afterAll(async () => {
      await llm?.unload();
    });

    it('greedy continuations equal the exact reference on ≥ 95% of prompts; logits within 2e-4', async () => {
      expect(llm.info.adapter).toMatch(/MatMulNBits/);
      const { equal } = await greedyAgainstExact(llm, ref, path, prompts, EOS);
      const { worst } = await logitsAgainstExact(llm, ref, prompts);
      console.log(`ort-wasm nbits ${variant}: ${equal}/${prompts.length} continuations equal the exact reference; max |logit - exact| ${worst.toExponential(2)}`);
      expect(equal / prompts.length).toBeGreaterThanOrEqual(0.95);
      expect(worst).toBeLessThan(2e-4);
    });
  });
}

describe('ORT WASM: the generation API (q4_0 fixture)', () => {
  let llm: LanguageModel;
  let ref: Reference;
  beforeAll(async () => {
    llm = await loadOrtModelFrom(ort, { bytes: fixtureBytes('q4_0') });
    ref = loadReference(fixturePath('q4_0'));
  });
  afterAll(async () => {
    await llm?.unload();
  });

  it('streams the same text as a non-streamed request, and reuses a cached prefix correctly', async () => {
    const prompt = 'The cat sat on the mat, and then';
    const whole = await llm.completions.create({ prompt, max_tokens: 24, temperature: 0 });
    let streamed = '';
    for await (const chunk of await llm.completions.create({ prompt, max_tokens: 24, temperature: 0, stream: true })) streamed += chunk.choices[0]!.text;
    expect(streamed).toBe(whole.choices[0]!.text);
    // A longer prompt sharing the cached prefix: the cache is sliced, not recomputed; compare with the reference.
    const longer = `${prompt} the dog`;
    const ids = llm.tokenizer.encode(longer);
    const expected = await llamacpp.detokenize(fixturePath('q4_0'), ref.greedy(ids, 16, EOS).filter((t) => t !== EOS));
    expect((await llm.completions.create({ prompt: longer, max_tokens: 16, temperature: 0 })).choices[0]!.text).toBe(expected);
  });

  it('stops at a stop string, honours max_tokens, and aborts between steps with AbortError', async () => {
    const r = await llm.completions.create({ prompt: 'Love is', max_tokens: 5, temperature: 0 });
    expect(r.usage.completion_tokens).toBeLessThanOrEqual(5);
    expect(r.choices[0]!.finish_reason === 'length' || r.usage.completion_tokens < 5).toBe(true);
    const full = (await llm.completions.create({ prompt: 'Love is', max_tokens: 32, temperature: 0 })).choices[0]!.text;
    const stopAt = full.trim().split(' ')[1]!;
    const stopped = await llm.completions.create({ prompt: 'Love is', max_tokens: 32, temperature: 0, stop: [stopAt] });
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
    expect(stopped.choices[0]!.text).toBe(full.slice(0, full.indexOf(stopAt)));

    const ac = new AbortController();
    const stream = await llm.completions.create({ prompt: 'If at first you', max_tokens: 32, temperature: 0, stream: true, signal: ac.signal });
    let chunks = 0;
    const caught = await (async () => {
      try {
        for await (const _ of stream) if (++chunks === 2) ac.abort();
      } catch (e) {
        return e;
      }
    })();
    expect((caught as { code?: string })?.code).toBe('Aborted');
    expect(chunks).toBe(2);
    // Still usable afterwards, and sampling (seeded) is deterministic.
    const a = await llm.completions.create({ prompt: 'Love is', max_tokens: 16, temperature: 0.8, seed: 5 });
    const b = await llm.completions.create({ prompt: 'Love is', max_tokens: 16, temperature: 0.8, seed: 5 });
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
  });
});

// The synthetic models of test/llm/synthetic_models.ts: qwen2 (halves RoPE, q/k/v biases, untied Q6_K head,
// Q4_K embedding), SentencePiece llama (mixed Q8_0/Q4_0/F16), llama with rope_freqs. Same tolerances as
// the native engine's synthetic_fidelity.test.ts.
for (const c of SYNTHETIC_CASES) {
  describe(`ORT WASM: synthetic ${c.name}`, () => {
    let llm: LanguageModel;
    let ref: Reference;
    let model: BuiltModel;

    beforeAll(async () => {
      model = buildSyntheticModel(c);
      llm = await loadOrtModelFrom(ort, { bytes: model.bytes });
      ref = loadReference(model.path);
    });
    afterAll(async () => {
      await llm?.unload();
    });

    it('greedy continuations equal the exact reference on ≥ 95% of prompts; logits within 1e-4 of the largest', async () => {
      const { equal } = await greedyAgainstExact(llm, ref, model.path, SYNTHETIC_PROMPTS, model.eos);
      const { worst, scale } = await logitsAgainstExact(llm, ref, SYNTHETIC_PROMPTS);
      console.log(`ort-wasm ${c.name}: ${equal}/${SYNTHETIC_PROMPTS.length} continuations equal; max |logit - exact| ${worst.toExponential(2)} (tolerance ${(1e-4 * scale).toExponential(2)})`);
      expect(equal / SYNTHETIC_PROMPTS.length).toBeGreaterThanOrEqual(0.95);
      expect(worst).toBeLessThan(1e-4 * scale);
    });

    it(`forced along llama.cpp's greedy tokens, top-1 agrees at ≥ ${c.quantized ? 98 : 99.5}% of positions`, async () => {
      const { agree, total } = await top1AlongLlamaCpp(llm, model.path, SYNTHETIC_PROMPTS, model.eos);
      console.log(`ort-wasm ${c.name}: top-1 agreement with llama.cpp ${((100 * agree) / total).toFixed(2)}% of ${total} positions`);
      expect(agree / total).toBeGreaterThanOrEqual(c.quantized ? 0.98 : 0.995);
    });
  });
}

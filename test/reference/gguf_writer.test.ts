// The test writer's own pieces against independent references: its f16 encoder and quantizers against
// ggml_quants.ts's decoders (written separately from ggml-quants.c), and its synthetic tokenizers against
// llama.cpp's tokenizer (encode → decode round trips, BOS handling, merges actually used).
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../random';
import { dequantizeMatrix, halfToNumber, type QuantType } from './ggml_quants';
import { floatToHalfBits, quantize, writeSyntheticModel, type SyntheticTokenizer } from './gguf_writer';
import { detokenize, tokenize } from './llamacpp';

describe('f16 encoder', () => {
  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToNumber(h);
      if (!Number.isFinite(x)) continue;
      const back = floatToHalfBits(x);
      // -0 and +0 are both fine encodings of zero only when the input was that zero.
      expect(back, `bits ${h.toString(16)}`).toBe(h);
    }
  });

  it('rounds to the nearest half (ties to even), overflowing to infinity', () => {
    const xs = randomFloats(20000, 3, 65000); // below the largest half, 65504
    for (const x of xs) {
      const h = floatToHalfBits(x);
      const err = Math.abs(halfToNumber(h) - Math.fround(x));
      for (const n of [h - 1, h + 1]) {
        const alt = halfToNumber(n & 0xffff);
        if (Number.isFinite(alt) && (n & 0x7fff) <= 0x7bff && ((n ^ h) & 0x8000) === 0) expect(err).toBeLessThanOrEqual(Math.abs(alt - Math.fround(x)));
      }
    }
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(halfToNumber(floatToHalfBits(1e6))).toBe(Infinity);
    expect(halfToNumber(floatToHalfBits(2 ** -24))).toBe(2 ** -24);
  });
});

describe('quantizers', () => {
  // Max error relative to each row's max |x|: half a quantization step, plus f16 rounding of the scales.
  const bounds: Partial<Record<QuantType, number>> = { F32: 1e-7, F16: 1e-3, BF16: 2 ** -8, Q8_0: 0.5 / 127 + 2e-3,
    // Q4_0 (as quantize_row_q4_0_ref): d = max/−8 maps the largest value to −8 exactly, so a value of the
    // opposite sign and equal size clamps at 7/8 of it: up to 1/8 of the block max.
    Q4_0: 1 / 8 + 2e-3, Q4_K: 0.1, Q6_K: 0.03 };
  for (const type of Object.keys(bounds) as QuantType[]) {
    it(`${type}: dequantizing (ggml_quants) what we quantized gives back the values`, () => {
      const rows = 6;
      const cols = 512;
      const x = randomFloats(rows * cols, 9, 2);
      // A row with a dominant outlier and an all-zero row, the edge cases of scale selection.
      x[cols + 5] = 40;
      x.fill(0, 2 * cols, 3 * cols);
      const y = dequantizeMatrix(type, quantize(type, x, rows, cols), rows, cols);
      for (let r = 0; r < rows; r++) {
        let amax = 0;
        let err = 0;
        for (let c = 0; c < cols; c++) {
          amax = Math.max(amax, Math.abs(x[r * cols + c]!));
          err = Math.max(err, Math.abs(y[r * cols + c]! - x[r * cols + c]!));
        }
        if (amax === 0) expect(err).toBe(0);
        // Block formats scale per block: compare with the row max (a loose but meaningful bound).
        else expect(err, `${type} row ${r}`).toBeLessThanOrEqual(bounds[type]! * amax);
      }
    });
  }
});

describe('synthetic tokenizers, as llama.cpp reads them', () => {
  const text = 'The quick brown fox jumps over the lazy dog. Hello world! 12345 + 678 = 90, ünïcödé ✓';
  const cases: [string, SyntheticTokenizer, boolean][] = [
    ['gpt2 / gpt-2', { model: 'gpt2', pre: 'gpt-2' }, true],
    ['gpt2 / llama-bpe', { model: 'gpt2', pre: 'llama-bpe' }, true],
    ['gpt2 / qwen2', { model: 'gpt2', pre: 'qwen2' }, false],
    ['llama (SentencePiece)', { model: 'llama' }, true],
  ];
  for (const [what, tokenizer, addsBos] of cases) {
    it(`${what}: encodes and decodes losslessly, uses merges, BOS as declared`, async () => {
      const m = writeSyntheticModel({ architecture: 'llama', tokenizer });
      const ids = await tokenize(m.path, text);
      expect(ids[0] === m.vocab.bos).toBe(addsBos);
      expect(m.vocab.addBos).toBe(addsBos);
      const body = addsBos ? ids.slice(1) : ids;
      // SentencePiece adds a leading space (▁) when it encodes; llama.cpp's decoder strips it back.
      expect((await detokenize(m.path, body)).replace(/^ /, '')).toBe(text);
      expect(body.length).toBeLessThan(new TextEncoder().encode(text).length * 0.8); // merges did something
      expect(Math.max(...ids)).toBeLessThan(m.vocab.tokens.length);
    });
  }
});

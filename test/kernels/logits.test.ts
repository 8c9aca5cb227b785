// Logit adjustment (penalties, bias) and log-sum-exp kernels against float64 CPU references written here.
import { describe, expect, it } from 'vitest';
import { readActivations, readFloat32, Recorder, uploadActivations } from '../../src/gpu';
import { adjustLogits, logSumExp, logSumExpScratchBytes, packAdjustments } from '../../src/ops/logits';
import { testGpu } from '../gpu';
import { expectClose, randomFloats, rng } from '../random';

describe('adjustLogits', () => {
  it('applies bias then repetition, frequency and presence penalties to listed ids only', async () => {
    const gpu = await testGpu();
    const vocab = 1000;
    const row = randomFloats(vocab, 5, 4);
    const r = rng(9);
    const ids = new Set<number>();
    while (ids.size < 70) ids.add(Math.floor(r() * vocab));
    const entries = [...ids].map((id, i) => ({ id, count: i % 4, bias: i % 3 === 0 ? (r() - 0.5) * 6 : 0 }));
    const rep = 1.3, freq = 0.2, pres = 0.45;
    const expected = Float64Array.from(row);
    for (const e of entries) {
      let l = row[e.id]! + e.bias;
      if (e.count > 0) {
        l = l > 0 ? l / rep : l * rep;
        l -= e.count * freq + pres;
      }
      expected[e.id] = l;
    }
    const logits = uploadActivations(gpu, row, 'logits');
    const adj = gpu.allocator.createBufferFrom(new Uint8Array(packAdjustments(entries, vocab)), 'adj');
    const rec = new Recorder(gpu);
    adjustLogits(rec, { logits, adjustments: adj, count: entries.length, repetitionPenalty: rep, frequencyPenalty: freq, presencePenalty: pres });
    rec.submit();
    expectClose(await readActivations(gpu, logits, vocab), expected, gpu.precision === 'f16' ? 2e-2 : 1e-5, 1e-5, 'adjusted logits');
  });

  it('rejects ids outside the vocabulary and duplicates', () => {
    expect(() => packAdjustments([{ id: 10, count: 1, bias: 0 }], 10)).toThrow(/not a token id/);
    expect(() => packAdjustments([{ id: 1, count: 1, bias: 0 }, { id: 1, count: 0, bias: 2 }], 10)).toThrow(/twice/);
  });
});

describe('logSumExp', () => {
  for (const length of [1, 7, 4096, 4097, 32000, 151936]) {
    it(`matches float64 log Σ exp over ${length} logits`, async () => {
      const gpu = await testGpu();
      const row = randomFloats(length, length, 12);
      if (length > 10) row[length - 3] = 30; // a dominant logit late in the row
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      const expected = max + Math.log(sum);
      const logits = uploadActivations(gpu, row, 'logits');
      const scratch = gpu.allocator.createBuffer(logSumExpScratchBytes(length), 'lse scratch');
      const out = gpu.allocator.createBuffer(16, 'lse');
      const rec = new Recorder(gpu);
      logSumExp(rec, { logits, length, scratch, out });
      rec.submit();
      const [got] = await readFloat32(gpu, out, 1);
      expect(Math.abs(got! - expected)).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected)));
    });
  }
});

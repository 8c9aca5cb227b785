// Row softmax (with temperature) against a float64 CPU implementation: row lengths 1, 33, 1024 and a
// Qwen2 vocabulary (151936), logits large enough to overflow a naive exp, and −∞ (masked) entries.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { fromF16Array, readActivations, Recorder, toF16Array, uploadActivations, type Gpu } from '../../src/gpu';
import { softmax } from '../../src/ops/softmax';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { expectClose, randomFloats } from '../random';

const shared = await testGpu();
const gpus: Gpu[] = await Promise.all(precisionsOf(shared).map((p) => (p === shared.precision ? shared : makeGpu({ precision: p }))));

function stored(gpu: Gpu, values: Float32Array): Float32Array {
  return gpu.precision === 'f16' ? fromF16Array(toF16Array(values)) : values;
}

function referenceSoftmax(x: Float32Array, rows: number, cols: number, temperature: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols), (v) => v / temperature);
    const max = row.reduce((m, v) => Math.max(m, v), -Infinity);
    const e = row.map((v) => Math.exp(v - max));
    const sum = e.reduce((s, v) => s + v, 0);
    e.forEach((v, i) => (out[r * cols + i] = v / sum));
  }
  return out;
}

interface SoftmaxCase {
  rows: number;
  cols: number;
  temperature: number;
  /** Logits are uniform in ±scale. */
  scale: number;
  /** Entries at these positions in each row (modulo cols) become −∞. */
  masked?: (i: number) => boolean;
}

const CASES: SoftmaxCase[] = [
  { rows: 1, cols: 1, temperature: 1, scale: 3 },
  { rows: 5, cols: 1, temperature: 0.5, scale: 3 },
  { rows: 3, cols: 33, temperature: 1, scale: 4 },
  { rows: 2, cols: 33, temperature: 0.7, scale: 100 }, // e^(100/0.7) overflows f32 unless the max is subtracted
  // Every 256th entry masked: one invocation of the 256 sees nothing but −∞.
  { rows: 4, cols: 1024, temperature: 1, scale: 8, masked: (i) => i % 256 === 5 || i % 97 === 0 },
  { rows: 17, cols: 1024, temperature: 1.5, scale: 8 },
  { rows: 1, cols: 151936, temperature: 1, scale: 12 },
  { rows: 2, cols: 151936, temperature: 0.8, scale: 12, masked: (i) => i > 151643 || i % 1000 === 1 },
];

for (const gpu of gpus) {
  describe(`softmax (${gpu.precision})`, () => {
    it.each(CASES)('$rows × $cols, temperature $temperature, logits ±$scale', async (c) => {
      const n = c.rows * c.cols;
      const values = randomFloats(n, 900 + c.cols + c.rows, c.scale);
      if (c.masked) for (let i = 0; i < n; i++) if (c.masked(i % c.cols)) values[i] = -Infinity;
      const x = stored(gpu, values);
      const xBuf = uploadActivations(gpu, x, 'logits');
      const outBuf = gpu.allocator.createBuffer(x.byteLength, 'probs');
      const rec = new Recorder(gpu);
      softmax(rec, { x: xBuf, out: outBuf, rows: c.rows, cols: c.cols, temperature: c.temperature });
      rec.submit();
      const got = await readActivations(gpu, outBuf, n);
      // f32: each output is exp(a − max)/sum with a = x·(1/temperature). a carries two roundings (of
      // 1/temperature and of the product), |a|·2^-23, which exp turns into that much relative error
      // (the max's own error cancels between numerator and sum). exp itself is good to a few ulp for the
      // arguments that matter, and the sum's error is at most one rounding per term an invocation adds
      // in sequence (cols/256 of them, plus rescales), then 8 tree levels. f16: the output rounding
      // (2^-11) dominates.
      let largest = 0;
      for (const v of x) if (Number.isFinite(v)) largest = Math.max(largest, Math.abs(v / c.temperature));
      const rtol = gpu.precision === 'f16' ? 2e-3 : ((2 * c.cols) / 256 + 40 + 4 * largest) * 2 ** -24;
      const atol = gpu.precision === 'f16' ? 1e-6 : 1e-12;
      expectClose(got, referenceSoftmax(x, c.rows, c.cols, c.temperature), atol, rtol, 'softmax');
      if (c.masked) for (let i = 0; i < n; i++) if (c.masked(i % c.cols)) expect(got[i]).toBe(0);
      gpu.allocator.release(xBuf);
      gpu.allocator.release(outBuf);
    });
  });
}

describe('softmax validation', () => {
  it('rejects bad shapes, temperatures, short buffers and in-place use', async () => {
    const gpu = shared;
    const x = gpu.allocator.createBuffer(64 * 4, 'x');
    const out = gpu.allocator.createBuffer(64 * 4, 'out');
    const rec = new Recorder(gpu);
    const ok = { x, out, rows: 2, cols: 32 };
    expect(() => softmax(rec, { ...ok, cols: 0 })).toThrow(InvalidArgumentError);
    expect(() => softmax(rec, { ...ok, temperature: 0 })).toThrow(/temperature/);
    expect(() => softmax(rec, { ...ok, temperature: -1 })).toThrow(/temperature/);
    expect(() => softmax(rec, { ...ok, temperature: 1e-45 })).toThrow(/temperature/);
    expect(() => softmax(rec, { ...ok, rows: 3 })).toThrow(/x holds/);
    expect(() => softmax(rec, { ...ok, out: x })).toThrow(/different buffer/);
    rec.submit();
    gpu.allocator.release(x);
    gpu.allocator.release(out);
  });
});

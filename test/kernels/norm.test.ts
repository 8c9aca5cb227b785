// RMSNorm against a float64 CPU implementation, on seeded random rows at awkward widths (1, odd, past a
// workgroup multiple) and LLM widths, for every activation precision this device runs.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { fromF16Array, readActivations, Recorder, toF16Array, uploadActivations, type Gpu } from '../../src/gpu';
import { rmsNorm } from '../../src/ops/norm';
import { uploadQuantMatrix } from '../../src/ops/weights';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { expectClose, randomFloats } from '../random';

// One device per precision this adapter runs (f32 always, f16 where shader-f16 exists).
const shared = await testGpu();
const gpus: Gpu[] = await Promise.all(precisionsOf(shared).map((p) => (p === shared.precision ? shared : makeGpu({ precision: p }))));

/** The values as the GPU holds them: f16 activations are rounded on upload, and the reference starts from those. */
function stored(gpu: Gpu, values: Float32Array): Float32Array {
  return gpu.precision === 'f16' ? fromF16Array(toF16Array(values)) : values;
}

function referenceRmsNorm(x: Float32Array, w: Float32Array, rows: number, cols: number, eps: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let sumSq = 0;
    for (let i = 0; i < cols; i++) sumSq += x[r * cols + i]! ** 2;
    const scale = 1 / Math.sqrt(sumSq / cols + eps);
    for (let i = 0; i < cols; i++) out[r * cols + i] = x[r * cols + i]! * scale * w[i]!;
  }
  return out;
}

// f32: the only errors are f32 roundings in a sum of ≤ 4096 squares (a strided sum then a 256-leaf tree:
// ~30 roundings deep, ≈ 2e-6 relative) and a few in the scaling; 2e-5 relative leaves a wide margin
// while still catching any wrong index or missing term. f16: the output rounding alone is 2^-11 relative.
const tolerance = (gpu: Gpu) => (gpu.precision === 'f16' ? { atol: 2e-3, rtol: 2e-3 } : { atol: 1e-6, rtol: 2e-5 });

const SHAPES: [rows: number, cols: number][] = [
  [1, 1], [17, 1], [1, 32], [4, 32], [17, 192], [3, 257], [16, 257], [1, 896], [17, 896], [1, 4096], [5, 4096],
];

for (const gpu of gpus) {
  describe(`rmsNorm (${gpu.precision})`, () => {
    it.each(SHAPES)('%i rows × %i cols', async (rows, cols) => {
      const eps = 1e-6;
      const x = stored(gpu, randomFloats(rows * cols, 1000 + rows * 7 + cols, 2));
      // A zero row (eps alone keeps it finite) and a row of large values (the sum of squares ~1e6).
      if (rows > 2) x.fill(0, cols, 2 * cols);
      if (rows > 3) for (let i = 3 * cols; i < 4 * cols; i++) x[i] = x[i]! * 400;
      const w = randomFloats(cols, 2000 + cols, 1.5);
      const xBuf = uploadActivations(gpu, x, 'x');
      const wBuf = gpu.allocator.createBufferFrom(w, 'norm weight');
      const outBuf = gpu.allocator.createBuffer(x.byteLength, 'out');
      const rec = new Recorder(gpu);
      rmsNorm(rec, { x: xBuf, weight: wBuf, out: outBuf, rows, cols, eps });
      rec.submit();
      const got = await readActivations(gpu, outBuf, rows * cols);
      const { atol, rtol } = tolerance(gpu);
      expectClose(got, referenceRmsNorm(x, w, rows, cols, eps), atol, rtol, `rmsNorm ${rows}×${cols}`);
      for (const b of [xBuf, wBuf, outBuf]) gpu.allocator.release(b);
    });

    it('takes the weight as a one-row F32 QuantMatrix (a GGUF norm tensor) and honours eps', async () => {
      const rows = 3;
      const cols = 64;
      const eps = 0.25; // large enough to change the result measurably
      const x = stored(gpu, randomFloats(rows * cols, 31, 0.5));
      const w = randomFloats(cols, 32);
      const weight = uploadQuantMatrix(gpu, 'F32', 1, cols, new Uint8Array(w.buffer), 'output_norm.weight');
      const xBuf = uploadActivations(gpu, x, 'x');
      const outBuf = gpu.allocator.createBuffer(x.byteLength, 'out');
      const rec = new Recorder(gpu);
      rmsNorm(rec, { x: xBuf, weight, out: outBuf, rows, cols, eps });
      rec.submit();
      const { atol, rtol } = tolerance(gpu);
      expectClose(await readActivations(gpu, outBuf, rows * cols), referenceRmsNorm(x, w, rows, cols, eps), atol, rtol);
      gpu.allocator.releaseRows(weight.data);
      for (const b of [xBuf, outBuf]) gpu.allocator.release(b);
    });
  });
}

describe('rmsNorm validation', () => {
  it('rejects bad shapes, short buffers and in-place use', async () => {
    const gpu = shared;
    const x = gpu.allocator.createBuffer(64 * 4, 'x');
    const w = gpu.allocator.createBuffer(64 * 4, 'w');
    const out = gpu.allocator.createBuffer(64 * 4, 'out');
    const rec = new Recorder(gpu);
    const ok = { x, weight: w, out, rows: 1, cols: 64, eps: 1e-6 };
    expect(() => rmsNorm(rec, { ...ok, rows: 0 })).toThrow(InvalidArgumentError);
    expect(() => rmsNorm(rec, { ...ok, cols: 2.5 })).toThrow(InvalidArgumentError);
    expect(() => rmsNorm(rec, { ...ok, rows: 2 })).toThrow(/x holds 256 bytes/);
    expect(() => rmsNorm(rec, { ...ok, out: x })).toThrow(/different buffer/);
    expect(() => rmsNorm(rec, { ...ok, eps: -1 })).toThrow(/eps/);
    const q = uploadQuantMatrix(gpu, 'F16', 1, 64, new Uint8Array(128), 'f16 norm');
    expect(() => rmsNorm(rec, { ...ok, weight: q })).toThrow(/only F32/);
    rec.submit();
    gpu.allocator.releaseRows(q.data);
    for (const b of [x, w, out]) gpu.allocator.release(b);
  });
});

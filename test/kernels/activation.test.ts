// SwiGLU gating (silu(gate)·up) and the residual add against float64 CPU implementations, at lengths
// that are not a multiple of anything, for every activation precision.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { fromF16Array, readActivations, Recorder, toF16Array, uploadActivations, type Gpu } from '../../src/gpu';
import { add, siluMul } from '../../src/ops/activation';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { expectClose, randomFloats } from '../random';

const shared = await testGpu();
const gpus: Gpu[] = await Promise.all(precisionsOf(shared).map((p) => (p === shared.precision ? shared : makeGpu({ precision: p }))));

function stored(gpu: Gpu, values: Float32Array): Float32Array {
  return gpu.precision === 'f16' ? fromF16Array(toF16Array(values)) : values;
}

const COUNTS = [1, 7, 255, 257, 4864, 3 * 4864 + 5, 70001];

for (const gpu of gpus) {
  describe(`siluMul (${gpu.precision})`, () => {
    it.each(COUNTS)('%i elements', async (count) => {
      const gateValues = randomFloats(count, 300 + count, 6);
      // The tails of silu: e^(−g) overflows f32 for g < −88 (the result must be −0, not NaN) and
      // vanishes for large g (silu(g) = g).
      const extremes = [-100, -88.5, -30, 30, 100];
      extremes.forEach((v, i) => {
        if (i < count) gateValues[(i * 7919) % count] = v;
      });
      const gate = stored(gpu, gateValues);
      const up = stored(gpu, randomFloats(count, 400 + count, 2));
      const gateBuf = uploadActivations(gpu, gate, 'gate');
      const upBuf = uploadActivations(gpu, up, 'up');
      const outBuf = gpu.allocator.createBuffer(gate.byteLength, 'out');
      const rec = new Recorder(gpu);
      siluMul(rec, { gate: gateBuf, up: upBuf, out: outBuf, count });
      rec.submit();
      const expected = Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      // f32: WGSL's exp is good to 3 + 2|x| ulp (≤ 2.4e-5 relative at |x| = 100, ~2e-6 for the bulk),
      // then one division and one product. f16: the output rounding, 2^-11.
      const [atol, rtol] = gpu.precision === 'f16' ? [1e-3, 2e-3] : [1e-6, 3e-5];
      expectClose(await readActivations(gpu, outBuf, count), expected, atol, rtol, `siluMul ${count}`);
      for (const b of [gateBuf, upBuf, outBuf]) gpu.allocator.release(b);
    });
  });

  describe(`add (${gpu.precision})`, () => {
    it.each(COUNTS)('%i elements', async (count) => {
      const a = stored(gpu, randomFloats(count, 500 + count, 3));
      const b = stored(gpu, randomFloats(count, 600 + count, 3));
      if (count > 2) b[1] = -a[1]!; // exact cancellation
      const aBuf = uploadActivations(gpu, a, 'a');
      const bBuf = uploadActivations(gpu, b, 'b');
      const outBuf = gpu.allocator.createBuffer(a.byteLength, 'out');
      const rec = new Recorder(gpu);
      add(rec, { a: aBuf, b: bBuf, out: outBuf, count });
      rec.submit();
      const expected = Array.from(a, (v, i) => v + b[i]!);
      // One rounding of the exact sum: half an ulp (2^-24 relative in f32, 2^-11 in f16).
      const rtol = gpu.precision === 'f16' ? 2 ** -11 : 2 ** -24;
      expectClose(await readActivations(gpu, outBuf, count), expected, 0, rtol, `add ${count}`);
      for (const buf of [aBuf, bBuf, outBuf]) gpu.allocator.release(buf);
    });
  });
}

describe('activation validation', () => {
  it('rejects bad counts, short buffers and an output aliasing an input', async () => {
    const gpu = shared;
    const x = gpu.allocator.createBuffer(40 * 4, 'x');
    const y = gpu.allocator.createBuffer(40 * 4, 'y');
    const out = gpu.allocator.createBuffer(40 * 4, 'out');
    const rec = new Recorder(gpu);
    expect(() => siluMul(rec, { gate: x, up: y, out, count: 0 })).toThrow(InvalidArgumentError);
    expect(() => siluMul(rec, { gate: x, up: y, out, count: 41 })).toThrow(/gate holds 160 bytes/);
    expect(() => siluMul(rec, { gate: x, up: y, out: y, count: 40 })).toThrow(/different buffer from up/);
    expect(() => add(rec, { a: x, b: y, out: x, count: 40 })).toThrow(/different buffer from a/);
    expect(() => add(rec, { a: x, b: y, out, count: 1.5 })).toThrow(InvalidArgumentError);
    rec.submit();
    for (const b of [x, y, out]) gpu.allocator.release(b);
  });
});

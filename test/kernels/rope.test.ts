// RoPE (both layouts) against a float64 CPU implementation written from the definition, at positions from
// 0 to ~8200, bases 1e4, 5e5 and 1e6, head sizes 32/64/128, full and partial rotary, linear scaling
// (freqScale 1, 1/2, 1/3, 1/4) and Llama 3.1-style frequency factors in [1, 8], for every precision.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { fromF16Array, readActivations, Recorder, toF16Array, uploadActivations, type Gpu } from '../../src/gpu';
import { rope, type RopeLayout } from '../../src/ops/rope';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { randomFloats } from '../random';

const shared = await testGpu();
const gpus: Gpu[] = await Promise.all(precisionsOf(shared).map((p) => (p === shared.precision ? shared : makeGpu({ precision: p }))));

function stored(gpu: Gpu, values: Float32Array): Float32Array {
  return gpu.precision === 'f16' ? fromF16Array(toF16Array(values)) : values;
}

interface RopeCase {
  layout: RopeLayout;
  tokens: number;
  heads: number;
  headDim: number;
  ropeDim: number;
  offset: number;
  base: number;
  /** Linear rope scaling (llama.cpp freq_scale); default 1. */
  freqScale?: number;
  /**
   * rope_freqs divisors: 'llama31' = the values Llama 3.1's converter writes (factor 8, low/high frequency
   * factors 1 and 4, original context 8192), 'random' = seeded uniform in [1, 8]; default none.
   */
  factors?: 'llama31' | 'random';
}

/** The case's ropeDim/2 frequency factors as f32 (the GGUF tensor's values), or undefined. */
function factorsOf(c: RopeCase): Float32Array | undefined {
  const half = c.ropeDim / 2;
  if (c.factors === 'random') return Float32Array.from(randomFloats(half, 991 + c.ropeDim + c.offset), (v) => 4.5 + 3.5 * v);
  if (c.factors !== 'llama31') return undefined;
  const [factor, low, high, oldContext] = [8, 1, 4, 8192];
  return Float32Array.from({ length: half }, (_, i) => {
    const wavelen = (2 * Math.PI) / Math.pow(c.base, (-2 * i) / c.ropeDim);
    if (wavelen < oldContext / high) return 1;
    if (wavelen > oldContext / low) return factor;
    const smooth = (oldContext / wavelen - low) / (high - low);
    return 1 / ((1 - smooth) / factor + smooth);
  });
}

/** The exact angle of pair i at position pos, as test/reference/llama_ref.ts forms it. */
function exactAngle(c: RopeCase, factors: Float32Array | undefined, i: number, pos: number): number {
  return (pos * (c.freqScale ?? 1) * Math.pow(c.base, (-2 * i) / c.ropeDim)) / (factors?.[i] ?? 1);
}

/** Rotation pairs (first, second) of one head: adjacent for 'pairs', ropeDim/2 apart for 'halves'. */
function pairOf(layout: RopeLayout, i: number, ropeDim: number): [number, number] {
  return layout === 'pairs' ? [2 * i, 2 * i + 1] : [i, i + ropeDim / 2];
}

/** The exact rotation, in float64: θ_i = base^(−2i/ropeDim), angle = freqScale·position·θ_i / factor_i. */
function referenceRope(x: Float32Array, c: RopeCase, factors: Float32Array | undefined): Float64Array {
  const out = Float64Array.from(x);
  for (let t = 0; t < c.tokens; t++) {
    for (let h = 0; h < c.heads; h++) {
      const head = (t * c.heads + h) * c.headDim;
      for (let i = 0; i < c.ropeDim / 2; i++) {
        const angle = exactAngle(c, factors, i, c.offset + t);
        const [a, b] = pairOf(c.layout, i, c.ropeDim);
        const x0 = x[head + a]!;
        const x1 = x[head + b]!;
        out[head + a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
        out[head + b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
      }
    }
  }
  return out;
}

/**
 * The bound each output is held to. The kernel forms the angle in f32 as llama.cpp does, and the f32
 * angle itself is off from the exact one by: the rounding of theta_scale = base^(−2/ropeDim) to f32
 * (≤ 2^-24 relative), amplified i times by the power θ_i = theta_scale^i; pow's own error (a few ulp);
 * the rounding of position·θ_i (½ ulp). Together ≤ angle·(i + 8)·2^-24 radians, which at position ~4000
 * is up to ~1e-3 rad for the first pairs: inherent to f32 angles (llama.cpp's error too), not to this
 * kernel. Then, as llama.cpp, the division by the factor (WGSL allows 2.5 ulp: ≤ 5·2^-24 relative) and the
 * product with freqScale (½ ulp, plus the rounding of freqScale itself to f32: ≤ 2·2^-24 relative); the
 * factors are f32 in the reference too, so they add no rounding of their own. The rotated value moves by at most (|x0| + |x1|)·angleError. Add the kernel's own cos/sin of
 * the reduced angle (polynomials truncated below 3e-8, evaluated in f32: a few 1e-8, bounded by 3e-7
 * here) and the f32 (or f16) rounding of the rotation.
 * A wrong θ, position, pairing or sign errs by O(|x|) and fails by orders of magnitude.
 */
function bound(gpu: Gpu, c: RopeCase, factors: Float32Array | undefined, i: number, t: number, x0: number, x1: number, expected: number): number {
  const angle = exactAngle(c, factors, i, c.offset + t);
  const steps = i + 8 + (factors ? 5 : 0) + ((c.freqScale ?? 1) !== 1 ? 2 : 0);
  const angleError = angle * steps * 2 ** -24;
  const rounding = gpu.precision === 'f16' ? 2 ** -10 * Math.abs(expected) + 1e-4 : 2 ** -22 * Math.abs(expected) + 1e-7;
  return (Math.abs(x0) + Math.abs(x1)) * (angleError + 3e-7) + rounding;
}

const CASES: RopeCase[] = [
  { layout: 'pairs', tokens: 1, heads: 1, headDim: 32, ropeDim: 32, offset: 0, base: 1e4 },
  { layout: 'pairs', tokens: 3, heads: 14, headDim: 64, ropeDim: 64, offset: 4000, base: 1e4 },
  { layout: 'pairs', tokens: 7, heads: 2, headDim: 128, ropeDim: 128, offset: 4093, base: 1e6 },
  { layout: 'pairs', tokens: 5, heads: 3, headDim: 128, ropeDim: 64, offset: 123, base: 1e4 },
  { layout: 'pairs', tokens: 4, heads: 5, headDim: 32, ropeDim: 32, offset: 1, base: 1e6 },
  { layout: 'halves', tokens: 1, heads: 1, headDim: 32, ropeDim: 32, offset: 0, base: 1e6 },
  { layout: 'halves', tokens: 7, heads: 14, headDim: 64, ropeDim: 64, offset: 4000, base: 1e6 },
  { layout: 'halves', tokens: 3, heads: 2, headDim: 128, ropeDim: 128, offset: 4093, base: 1e4 },
  { layout: 'halves', tokens: 4, heads: 5, headDim: 128, ropeDim: 96, offset: 3999, base: 1e6 },
  { layout: 'halves', tokens: 6, heads: 1, headDim: 64, ropeDim: 16, offset: 9, base: 1e4 },
  // Linear scaling.
  { layout: 'pairs', tokens: 5, heads: 3, headDim: 64, ropeDim: 64, offset: 7995, base: 1e4, freqScale: 0.25 },
  { layout: 'halves', tokens: 6, heads: 2, headDim: 128, ropeDim: 128, offset: 8190, base: 1e6, freqScale: 0.5 },
  { layout: 'pairs', tokens: 3, heads: 2, headDim: 128, ropeDim: 96, offset: 4321, base: 1e4, freqScale: 1 / 3 },
  // Llama 3.1/3.2: base 5e5, headDim 128 (and 64), rope_freqs, with and without linear scaling.
  { layout: 'pairs', tokens: 5, heads: 4, headDim: 128, ropeDim: 128, offset: 7996, base: 5e5, factors: 'llama31' },
  { layout: 'pairs', tokens: 2, heads: 3, headDim: 64, ropeDim: 64, offset: 8191, base: 5e5, factors: 'llama31', freqScale: 0.25 },
  { layout: 'halves', tokens: 5, heads: 4, headDim: 128, ropeDim: 128, offset: 8000, base: 5e5, factors: 'llama31', freqScale: 0.5 },
  // Arbitrary factors in [1, 8], partial rotary, position 0.
  { layout: 'pairs', tokens: 1, heads: 1, headDim: 32, ropeDim: 32, offset: 0, base: 1e4, factors: 'random', freqScale: 0.25 },
  { layout: 'pairs', tokens: 4, heads: 3, headDim: 128, ropeDim: 64, offset: 6000, base: 1e4, factors: 'random', freqScale: 0.5 },
  { layout: 'halves', tokens: 7, heads: 2, headDim: 128, ropeDim: 96, offset: 8100, base: 1e6, factors: 'random' },
  { layout: 'halves', tokens: 3, heads: 5, headDim: 64, ropeDim: 16, offset: 2, base: 1e4, factors: 'random', freqScale: 0.25 },
];

for (const gpu of gpus) {
  describe(`rope (${gpu.precision})`, () => {
    const cases = CASES.map((c) => ({ ...c, scale: c.freqScale ?? 1, with: c.factors ?? 'no' }));
    it.each(cases)('$layout: $tokens tokens × $heads heads × $headDim (rotary $ropeDim), offset $offset, base $base, freqScale $scale, $with factors', async (c) => {
      const n = c.tokens * c.heads * c.headDim;
      const x = stored(gpu, randomFloats(n, 77 + c.headDim + c.offset + c.heads, 1.5));
      const xBuf = uploadActivations(gpu, x, 'q');
      const factors = factorsOf(c);
      // The factors buffer is padded with NaNs past ropeDim/2: reading any of them would poison the output.
      const padded = factors && Float32Array.from([...factors, ...new Array<number>(factors.length).fill(NaN)]);
      const factorsBuf = padded && gpu.allocator.createBufferFrom(padded, 'rope_freqs');
      const rec = new Recorder(gpu);
      rope(rec, {
        x: xBuf, tokens: c.tokens, heads: c.heads, headDim: c.headDim, ropeDim: c.ropeDim, offset: c.offset, base: c.base, layout: c.layout,
        ...(c.freqScale !== undefined ? { freqScale: c.freqScale } : {}),
        ...(factorsBuf ? { freqFactors: factorsBuf } : {}),
      });
      rec.submit();
      const got = await readActivations(gpu, xBuf, n);
      const expected = referenceRope(x, c, factors);
      let worst = 0;
      for (let t = 0; t < c.tokens; t++) {
        for (let h = 0; h < c.heads; h++) {
          const head = (t * c.heads + h) * c.headDim;
          for (let i = 0; i < c.ropeDim / 2; i++) {
            for (const d of pairOf(c.layout, i, c.ropeDim)) {
              const e = expected[head + d]!;
              const [a, b] = pairOf(c.layout, i, c.ropeDim);
              const tol = bound(gpu, c, factors, i, t, x[head + a]!, x[head + b]!, e);
              const err = Math.abs(got[head + d]! - e);
              worst = Math.max(worst, err / tol);
              if (!(err <= tol)) throw new Error(`token ${t} head ${h} dim ${d}: ${got[head + d]} vs ${e} (error ${err}, bound ${tol})`);
            }
          }
          // Dims past ropeDim are left exactly as they were.
          for (let d = c.ropeDim; d < c.headDim; d++) expect(got[head + d]).toBe(x[head + d]);
        }
      }
      expect(worst).toBeLessThanOrEqual(1);
      gpu.allocator.release(xBuf);
      if (factorsBuf) gpu.allocator.release(factorsBuf);
    });
  });
}

describe('rope validation', () => {
  it('rejects bad shapes, odd or oversized ropeDim, bad positions, bad freqScale and short buffers', async () => {
    const gpu = shared;
    const x = gpu.allocator.createBuffer(2 * 4 * 64 * 4, 'q');
    const rec = new Recorder(gpu);
    const ok = { x, tokens: 2, heads: 4, headDim: 64, offset: 0, base: 1e4, layout: 'halves' as const };
    rope(rec, ok);
    expect(() => rope(rec, { ...ok, tokens: 0 })).toThrow(InvalidArgumentError);
    expect(() => rope(rec, { ...ok, ropeDim: 33 })).toThrow(/ropeDim/);
    expect(() => rope(rec, { ...ok, ropeDim: 66 })).toThrow(/ropeDim/);
    expect(() => rope(rec, { ...ok, offset: -1 })).toThrow(/offset/);
    expect(() => rope(rec, { ...ok, offset: 2 ** 24 })).toThrow(/offset/);
    expect(() => rope(rec, { ...ok, base: 1 })).toThrow(/base/);
    expect(() => rope(rec, { ...ok, heads: 5 })).toThrow(/x holds/);
    expect(() => rope(rec, { ...ok, layout: 'interleaved' as RopeLayout })).toThrow(/layout/);
    for (const freqScale of [0, -0.5, NaN, Infinity, -Infinity, 1e-40, 1e39]) {
      expect(() => rope(rec, { ...ok, freqScale })).toThrow(InvalidArgumentError);
      expect(() => rope(rec, { ...ok, freqScale })).toThrow(/freqScale/);
    }
    // ropeDim 64 needs 32 factors (128 bytes); ropeDim 32 needs 16 (64 bytes).
    const factors = gpu.allocator.createBufferFrom(new Float32Array(16).fill(2), 'rope_freqs');
    rope(rec, { ...ok, ropeDim: 32, freqFactors: factors, freqScale: 0.25 });
    expect(() => rope(rec, { ...ok, freqFactors: factors })).toThrow(InvalidArgumentError);
    expect(() => rope(rec, { ...ok, freqFactors: factors })).toThrow(/freqFactors/);
    expect(() => rope(rec, { ...ok, freqFactors: x })).toThrow(/freqFactors/);
    rec.submit();
    await gpu.checkErrors();
    gpu.allocator.release(x);
    gpu.allocator.release(factors);
  });
});

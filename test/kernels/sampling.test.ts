// argmax and top-k over one logits row against plain CPU implementations: vocabularies of 1 to 151936,
// many duplicate values (ties must go to the lower index), −∞ and NaN entries, k from 1 to 128.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { fromF16Array, readBuffer, Recorder, toF16Array, uploadActivations, type Gpu } from '../../src/gpu';
import { argmax, topK, TOP_K_MAX } from '../../src/ops/sampling';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { randomFloats, rng } from '../random';

const shared = await testGpu();
const gpus: Gpu[] = await Promise.all(precisionsOf(shared).map((p) => (p === shared.precision ? shared : makeGpu({ precision: p }))));

function stored(gpu: Gpu, values: Float32Array): Float32Array {
  return gpu.precision === 'f16' ? fromF16Array(toF16Array(values)) : values;
}

/** llama.cpp's order: larger first, equal values by lower index; NaN below everything, −∞ included. */
function ranksBefore(values: Float32Array, i: number, j: number): boolean {
  const a = values[i]!;
  const b = values[j]!;
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) === Number.isNaN(b) ? i < j : !Number.isNaN(a);
  return a > b || (a === b && i < j);
}

function referenceArgmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (ranksBefore(values, i, best)) best = i;
  return best;
}

function referenceTopK(values: Float32Array, k: number): number[] {
  const order = Array.from(values.keys());
  order.sort((i, j) => (ranksBefore(values, i, j) ? -1 : 1));
  return order.slice(0, k);
}

interface Row {
  name: string;
  length: number;
  make(length: number, seed: number): Float32Array;
  /** The k to run topK with (capped at length); software WebGPU is slow, so the big rows try fewer. */
  ks?: number[];
}

/** Values on a coarse grid (steps of 1/8 within ±range): the top of a big row is full of ties. */
function coarse(length: number, seed: number, range = 16): Float32Array {
  return randomFloats(length, seed, range).map((v) => Math.round(v * 8) / 8);
}

const ROWS: Row[] = [
  { name: 'one entry', length: 1, make: (n, s) => randomFloats(n, s) },
  { name: 'seven entries with a tie for the max', length: 7, make: () => Float32Array.from([1, 3, -2, 3, 0.5, 3, -Infinity]) },
  { name: '1000 coarse values', length: 1000, make: (n, s) => coarse(n, s, 2) },
  {
    name: '1000 values with −∞ and NaN, max at the last index',
    length: 1000,
    make: (n, s) => {
      const v = randomFloats(n, s, 5);
      const r = rng(s + 1);
      for (let i = 0; i < n; i++) if (r() < 0.3) v[i] = r() < 0.5 ? -Infinity : NaN;
      v[n - 1] = 7;
      return v;
    },
  },
  { name: 'all −∞', length: 33, make: (n) => new Float32Array(n).fill(-Infinity) },
  {
    name: 'NaN everywhere but a few −∞ and ±0',
    length: 40,
    make: (n) => {
      const v = new Float32Array(n).fill(NaN);
      v[9] = -Infinity;
      v[30] = -0;
      v[31] = 0;
      v[35] = -Infinity;
      return v;
    },
  },
  { name: '32000 coarse values', length: 32000, make: (n, s) => coarse(n, s) },
  { name: '151936 coarse values, a Qwen2 vocabulary', length: 151936, make: (n, s) => coarse(n, s), ks: [1, 50, 100] },
  {
    name: '151936 distinct values, max near the end, −∞ in the padding',
    length: 151936,
    make: (n, s) => {
      const v = randomFloats(n, s, 20);
      for (let i = 151646; i < n; i++) v[i] = -Infinity; // Qwen2 pads its vocabulary past the real tokens
      v[151640] = 25;
      return v;
    },
    ks: [64, TOP_K_MAX],
  },
  {
    // Past 2^18 entries: more workgroups in the full-row passes, and top-k's ties level bins indices 8 at a time.
    name: '262147 coarse values (several chunks per workgroup)',
    length: 262147,
    make: (n, s) => coarse(n, s, 64),
    ks: [7, TOP_K_MAX],
  },
  // top-k selects by threshold and sorts at most 2048 candidates; these rows put more than that at the
  // threshold, so that it must be refined: within a bin of the key's top 16 bits, then among exact ties.
  { name: '151936 equal values', length: 151936, make: (n) => new Float32Array(n).fill(1.5), ks: [1, 50, TOP_K_MAX] },
  { name: '5000 equal values', length: 5000, make: (n) => new Float32Array(n).fill(-3.25), ks: [7, TOP_K_MAX] },
  { name: '65537 equal values (ties binned 2 indices at a time)', length: 65537, make: (n) => new Float32Array(n).fill(0), ks: [TOP_K_MAX] },
  { name: '262147 equal values', length: 262147, make: (n) => new Float32Array(n).fill(7), ks: [TOP_K_MAX] },
  {
    name: '151936 −∞ but for 10 finite values (a masked row)',
    length: 151936,
    make: (n, s) => {
      const v = new Float32Array(n).fill(-Infinity);
      const r = rng(s);
      for (let i = 0; i < 10; i++) v[Math.floor(r() * n)] = (r() - 0.5) * 10;
      return v;
    },
    ks: [7, 64, TOP_K_MAX],
  },
  {
    name: '151936 NaN but for 30 numbers',
    length: 151936,
    make: (n, s) => {
      const v = new Float32Array(n).fill(NaN);
      const r = rng(s);
      for (let i = 0; i < 30; i++) v[Math.floor(r() * n)] = r() < 0.2 ? -Infinity : (r() - 0.5) * 10;
      return v;
    },
    ks: [20, 64],
  },
  {
    name: '151936 values, 100 large ones and 3000 ties just below them',
    length: 151936,
    make: (n, s) => {
      const v = coarse(n, s);
      const r = rng(s + 1);
      for (let i = 0; i < 3000; i++) v[Math.floor(r() * n)] = 18;
      for (let i = 0; i < 100; i++) v[Math.floor(r() * n)] = 20 + r() * 10;
      return v;
    },
    ks: [50, 100, 101, TOP_K_MAX],
  },
  {
    // All in one bin of the key's top 16 bits ([1, 1 + 2^-7)), about 9 per distinct value.
    name: '151936 values within 2^-9 of 1',
    length: 151936,
    make: (n, s) => {
      const r = rng(s);
      return Float32Array.from({ length: n }, () => 1 + Math.floor(r() * 16384) * 2 ** -23);
    },
    ks: [1, 64, TOP_K_MAX],
  },
  {
    name: '4000 ties at −0 and +0 among negatives',
    length: 4000,
    make: (n, s) => {
      const r = rng(s);
      return Float32Array.from({ length: n }, () => (r() < 0.7 ? (r() < 0.5 ? -0 : 0) : -1 - r()));
    },
    ks: [1, TOP_K_MAX],
  },
];

/** Reads back u32s. */
async function readU32(gpu: Gpu, buffer: GPUBuffer, count: number): Promise<Uint32Array> {
  return new Uint32Array(await readBuffer(gpu, buffer, 0, count * 4));
}

for (const gpu of gpus) {
  describe(`argmax (${gpu.precision})`, () => {
    it.each(ROWS)('$name', async (row) => {
      const values = stored(gpu, row.make(row.length, 4242 + row.length));
      const logits = uploadActivations(gpu, values, 'logits');
      const out = gpu.allocator.createBuffer(4, 'token');
      const rec = new Recorder(gpu);
      argmax(rec, { logits, length: row.length, out });
      rec.submit();
      expect((await readU32(gpu, out, 1))[0]).toBe(referenceArgmax(values));
      gpu.allocator.release(logits);
      gpu.allocator.release(out);
    });
  });

  describe(`topK (${gpu.precision})`, () => {
    const ks = (row: Row) => [...new Set((row.ks ?? [1, 7, 50, 64, 100, TOP_K_MAX]).map((k) => Math.min(k, row.length)))];
    it.each(ROWS)('$name', async (row) => {
      const values = stored(gpu, row.make(row.length, 777 + row.length));
      const logits = uploadActivations(gpu, values, 'logits');
      const outValues = gpu.allocator.createBuffer(4 * TOP_K_MAX, 'top values');
      const outIndices = gpu.allocator.createBuffer(4 * TOP_K_MAX, 'top indices');
      for (const k of ks(row)) {
        const rec = new Recorder(gpu);
        topK(rec, { logits, length: row.length, k, outValues, outIndices });
        rec.submit();
        const indices = Array.from(await readU32(gpu, outIndices, k));
        const got = new Float32Array(await readBuffer(gpu, outValues, 0, 4 * k));
        const expected = referenceTopK(values, k);
        expect(indices, `k = ${k}`).toEqual(expected);
        // The values are the logits themselves, exactly (±0 compare equal: the order does not tell them apart).
        expected.forEach((index, r) => {
          const want = values[index]!;
          if (!(got[r] === want || (Number.isNaN(got[r]) && Number.isNaN(want)))) {
            throw new Error(`k = ${k}, rank ${r}: value ${got[r]}, expected ${want}`);
          }
        });
      }
      for (const b of [logits, outValues, outIndices]) gpu.allocator.release(b);
    });
  });
}

describe('sampling validation', () => {
  it('rejects bad lengths, k out of range and short buffers', async () => {
    const gpu = shared;
    const logits = gpu.allocator.createBuffer(100 * 4, 'logits');
    const small = gpu.allocator.createBuffer(16, 'small');
    const big = gpu.allocator.createBuffer(4 * TOP_K_MAX, 'big');
    const rec = new Recorder(gpu);
    expect(() => argmax(rec, { logits, length: 0, out: small })).toThrow(InvalidArgumentError);
    expect(() => argmax(rec, { logits, length: 101, out: small })).toThrow(/logits holds 400 bytes/);
    expect(() => topK(rec, { logits, length: 100, k: 0, outValues: big, outIndices: big })).toThrow(/k 0/);
    expect(() => topK(rec, { logits, length: 10, k: 11, outValues: big, outIndices: big })).toThrow(/k 11/);
    expect(() => topK(rec, { logits, length: 100, k: TOP_K_MAX + 1, outValues: big, outIndices: big })).toThrow(InvalidArgumentError);
    expect(() => topK(rec, { logits, length: 100, k: 5, outValues: small, outIndices: big })).toThrow(/outValues holds 16 bytes/);
    rec.submit();
    for (const b of [logits, small, big]) gpu.allocator.release(b);
  });
});

// Embedding lookup against the float64 reference decoder (test/reference/ggml_quants.ts), for every GGUF
// type inpage runs, from a table in one binding and from one split over several shards, for every
// activation precision; ids at row 0, the last row, shard boundaries, repeats, and past the vocabulary.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { createActivations, readActivations, Recorder, type Gpu } from '../../src/gpu';
import { embeddingLookup, uploadTokenIds } from '../../src/ops/embedding';
import { destroyQuantMatrix, uploadQuantMatrix } from '../../src/ops/weights';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { dequantizeMatrix, QUANT_TYPES, randomQuantMatrix, referenceRowBytes, type QuantType } from '../reference/ggml_quants';
import { expectClose, rng } from '../random';

const shared = await testGpu();
const precisions = precisionsOf(shared);
const gpus: Gpu[] = await Promise.all(precisions.map((p) => (p === shared.precision ? shared : makeGpu({ precision: p }))));
/** A binding limit of 16 KiB: every table below is split over three or more shards. */
const SHARD_LIMIT = 16384;
const shardedGpus: Gpu[] = await Promise.all(precisions.map((p) => makeGpu({ precision: p, maxBindingBytes: SHARD_LIMIT })));

/**
 * Widths per type: a few blocks, not a power of two where the block size allows; odd block counts for the
 * 32-value types (rows then alternate between 4- and 2-byte alignment), one block of 256, short float rows.
 */
const COLS: Record<QuantType, number> = {
  Q4_0: 96, Q4_1: 96, Q5_0: 96, Q5_1: 160, Q8_0: 64, IQ4_NL: 96, Q2_K: 256, Q3_K: 256, Q4_K: 256, Q5_K: 256, Q6_K: 256, IQ4_XS: 256,
  F16: 36, BF16: 28, F32: 20,
};

function referenceLookup(table: Float64Array, cols: number, vocab: number, ids: ArrayLike<number>): Float64Array {
  const out = new Float64Array(ids.length * cols);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id < vocab) out.set(table.subarray(id * cols, (id + 1) * cols), t * cols);
  }
  return out;
}

/**
 * f32: the decoders compute d·q (or d·sc·q − dmin·m) in f32: two or three roundings, at most a few ulp of
 * the block's largest term, hence an absolute bound relative to the table's magnitude. f16: the output
 * rounding, 2^-11 relative.
 */
function check(gpu: Gpu, got: Float32Array, expected: Float64Array, what: string): void {
  const magnitude = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (gpu.precision === 'f16') expectClose(got, expected, 1e-3 * magnitude, 1e-3, what);
  else expectClose(got, expected, 4 * 2 ** -24 * magnitude, 2 ** -22, what);
}

async function lookup(gpu: Gpu, type: QuantType, vocab: number, ids: number[], raw = false): Promise<{ got: Float32Array; expected: Float64Array; shards: number }> {
  const cols = COLS[type];
  const bytes = randomQuantMatrix(type, vocab, cols, 31 + vocab + cols);
  const table = uploadQuantMatrix(gpu, type, vocab, cols, bytes, `token_embd ${type}`);
  // Out-of-range ids can only arrive in a buffer written elsewhere: uploadTokenIds would reject them.
  const idBuf = raw ? gpu.allocator.createBufferFrom(Uint32Array.from(ids), 'raw ids') : uploadTokenIds(gpu, ids, vocab);
  const out = createActivations(gpu, ids.length * cols, 'embeddings');
  const rec = new Recorder(gpu);
  embeddingLookup(rec, { table, ids: idBuf, tokens: ids.length, out });
  rec.submit();
  const got = await readActivations(gpu, out, ids.length * cols);
  const expected = referenceLookup(dequantizeMatrix(type, bytes, vocab, cols), cols, vocab, ids);
  const shards = table.data.shards.length;
  destroyQuantMatrix(gpu, table);
  gpu.allocator.release(idBuf);
  gpu.allocator.release(out);
  return { got, expected, shards };
}

for (const [p, gpu] of gpus.entries()) {
  const sharded = shardedGpus[p]!;
  describe(`embeddingLookup (${gpu.precision})`, () => {
    it.each(QUANT_TYPES)('%s, one binding', async (type) => {
      const vocab = 37;
      const r = rng(5);
      const ids = [0, vocab - 1, 5, 5, ...Array.from({ length: 9 }, () => Math.floor(r() * vocab))];
      const { got, expected, shards } = await lookup(gpu, type, vocab, ids);
      expect(shards).toBe(1);
      check(gpu, got, expected, `${type} lookup`);
    });

    it.each(QUANT_TYPES)('%s, table split over shards', async (type) => {
      const rowsPerShard = Math.floor((SHARD_LIMIT - 16) / referenceRowBytes(type, COLS[type]));
      const vocab = 3 * rowsPerShard + 5; // four shards, the last one short
      const boundaries = [rowsPerShard - 1, rowsPerShard, 2 * rowsPerShard, 3 * rowsPerShard - 1, 3 * rowsPerShard];
      const r = rng(6);
      const ids = [vocab - 1, ...boundaries, 0, ...Array.from({ length: 6 }, () => Math.floor(r() * vocab))];
      const { got, expected, shards } = await lookup(sharded, type, vocab, ids);
      expect(shards).toBe(4);
      check(sharded, got, expected, `${type} sharded lookup`);
    });

    it('writes zeros for ids past the vocabulary instead of reading out of bounds', async () => {
      const vocab = 3 * Math.floor((SHARD_LIMIT - 16) / referenceRowBytes('Q8_0', COLS.Q8_0)) + 5;
      const ids = [2, vocab, 0xffffffff, vocab - 1, vocab + 1000];
      const { got, expected } = await lookup(sharded, 'Q8_0', vocab, ids, true);
      check(sharded, got, expected, 'lookup with bad ids');
      const cols = COLS.Q8_0;
      for (const t of [1, 2, 4]) expect(Array.from(got.subarray(t * cols, (t + 1) * cols))).toEqual(new Array(cols).fill(0));
    });
  });
}

describe('embeddingLookup validation', () => {
  it('rejects ids outside the vocabulary on upload, and short buffers', async () => {
    const gpu = shared;
    expect(() => uploadTokenIds(gpu, [0, 10], 10)).toThrow(/token 1 has id 10/);
    expect(() => uploadTokenIds(gpu, [-1], 10)).toThrow(InvalidArgumentError);
    expect(() => uploadTokenIds(gpu, [1.5], 10)).toThrow(InvalidArgumentError);
    expect(() => uploadTokenIds(gpu, [], 10)).toThrow(/no token ids/);
    const table = uploadQuantMatrix(gpu, 'Q8_0', 4, 32, new Uint8Array(4 * 34), 'table');
    const ids = uploadTokenIds(gpu, [1, 2, 3], 4);
    const out = gpu.allocator.createBuffer(3 * 32 * 4, 'out');
    const rec = new Recorder(gpu);
    expect(() => embeddingLookup(rec, { table, ids, tokens: 0, out })).toThrow(InvalidArgumentError);
    expect(() => embeddingLookup(rec, { table, ids, tokens: 5, out })).toThrow(/ids holds 16 bytes/);
    expect(() => embeddingLookup(rec, { table, ids, tokens: 4, out })).toThrow(/out holds 384 bytes/);
    const odd = uploadQuantMatrix(gpu, 'F32', 2, 6, new Uint8Array(48), 'odd');
    expect(() => embeddingLookup(rec, { table: odd, ids, tokens: 1, out })).toThrow(/multiple of 4/);
    rec.submit();
    destroyQuantMatrix(gpu, table);
    destroyQuantMatrix(gpu, odd);
    gpu.allocator.release(ids);
    gpu.allocator.release(out);
  });
});

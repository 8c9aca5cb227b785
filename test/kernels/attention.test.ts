// Fused attention (flash-style causal prefill, split-K decode) against a float64 CPU softmax(q·kᵀ·scale
// + causal mask)·v, on seeded random data with scores of several units, for head ratios 1, 4, 7, 8 and 16,
// head sizes 32, 64 and 128, query counts and cache lengths just past tile and chunk multiples, on top of
// an existing cache or not, for every activation precision this device runs.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { createActivations, fromF16Array, readActivations, Recorder, toF16Array, uploadActivations, type Gpu } from '../../src/gpu';
import {
  attentionDecode,
  attentionDecodeScratchBytes,
  attentionPrefill,
  decodePlan,
  prefillConfig,
  releaseAttentionScratch,
  SUPPORTED_HEAD_DIMS,
  type AttentionPrefillArgs,
} from '../../src/ops/attention';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { expectClose, randomFloats } from '../random';

// One device per precision this adapter runs (f32 always, f16 where shader-f16 exists).
const shared = await testGpu();
const gpus: Gpu[] = await Promise.all(precisionsOf(shared).map((p) => (p === shared.precision ? shared : makeGpu({ precision: p }))));

/** The values as the GPU holds them: f16 activations are rounded on upload, and the reference starts from those. */
function stored(gpu: Gpu, values: Float32Array): Float32Array {
  return gpu.precision === 'f16' ? fromF16Array(toF16Array(values)) : values;
}

interface Heads {
  nHead: number;
  nKvHead: number;
  headDim: number;
}

/**
 * Plain attention in float64: for token t (absolute position past + t) and head h, the scores against
 * every cache position 0 .. past + t of kv head h / (nHead / nKvHead), softmax, weighted sum of values.
 */
function referenceAttention(q: Float32Array, k: Float32Array, v: Float32Array, tokens: number, past: number, heads: Heads, scale: number): Float64Array {
  const { nHead, nKvHead, headDim: d } = heads;
  const group = nHead / nKvHead;
  const out = new Float64Array(tokens * nHead * d);
  const scores = new Float64Array(past + tokens);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < nHead; h++) {
      const kvh = Math.floor(h / group);
      const qBase = (t * nHead + h) * d;
      const positions = past + t + 1;
      let max = -Infinity;
      for (let j = 0; j < positions; j++) {
        const kBase = (j * nKvHead + kvh) * d;
        let s = 0;
        for (let i = 0; i < d; i++) s += q[qBase + i]! * k[kBase + i]!;
        scores[j] = s * scale;
        max = Math.max(max, scores[j]!);
      }
      let sum = 0;
      for (let j = 0; j < positions; j++) {
        scores[j] = Math.exp(scores[j]! - max);
        sum += scores[j]!;
      }
      for (let j = 0; j < positions; j++) {
        const w = scores[j]! / sum;
        const vBase = (j * nKvHead + kvh) * d;
        for (let i = 0; i < d; i++) out[qBase + i] += w * v[vBase + i]!;
      }
    }
  }
  return out;
}

/** Largest score magnitude of the reference problem, to show the data really has spread. */
function maxScore(q: Float32Array, k: Float32Array, tokens: number, past: number, heads: Heads, scale: number): number {
  const { nHead, nKvHead, headDim: d } = heads;
  let max = 0;
  for (let h = 0; h < nHead; h++) {
    const kvh = Math.floor(h / (nHead / nKvHead));
    for (let j = 0; j < past + tokens; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += q[((tokens - 1) * nHead + h) * d + i]! * k[(j * nKvHead + kvh) * d + i]!;
      max = Math.max(max, Math.abs(s * scale));
    }
  }
  return max;
}

// Inputs uniform in ±2.5 make scores (after 1/sqrt(d)) of standard deviation ≈ 2 and extremes of 6-9:
// the softmax is peaked and the running max moves between tiles, so a missing rescale shows at once.
const QK_RANGE = 2.5;
// Cache positions past the filled length hold NaN: reading any of them (instead of stopping at the
// causal limit) poisons the output. The output buffer starts as NaN too, so every element must be written.
const POISON_POSITIONS = 9;

interface Problem {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  qBuf: GPUBuffer;
  kBuf: GPUBuffer;
  vBuf: GPUBuffer;
  outBuf: GPUBuffer;
  release(): void;
}

/** Random q for `tokens` tokens and a cache filled up to past + tokens, then poisoned. */
function makeProblem(gpu: Gpu, tokens: number, past: number, heads: Heads, seed: number): Problem {
  const { nHead, nKvHead, headDim: d } = heads;
  const filled = (past + tokens) * nKvHead * d;
  const q = stored(gpu, randomFloats(tokens * nHead * d, seed, QK_RANGE));
  const k = stored(gpu, randomFloats(filled, seed + 1, QK_RANGE));
  const v = stored(gpu, randomFloats(filled, seed + 2, 1));
  const poisoned = (values: Float32Array) => {
    const all = new Float32Array(filled + POISON_POSITIONS * nKvHead * d).fill(NaN);
    all.set(values);
    return all;
  };
  const qBuf = uploadActivations(gpu, q, 'q');
  const kBuf = uploadActivations(gpu, poisoned(k), 'k cache');
  const vBuf = uploadActivations(gpu, poisoned(v), 'v cache');
  const outBuf = uploadActivations(gpu, new Float32Array(tokens * nHead * d).fill(NaN), 'out');
  return {
    q, k, v, qBuf, kBuf, vBuf, outBuf,
    release() {
      for (const b of [qBuf, kBuf, vBuf, outBuf]) gpu.allocator.release(b);
    },
  };
}

// f32: each score is a d-term f32 dot product (≈1e-6 absolute at scores ≤ 10, moving a softmax weight by
// ≈1e-6 relative) and the output a weighted mean of |v| ≤ 1; the worst error seen is 8e-7, while indexing,
// masking or rescaling mistakes move outputs by 1e-2 and more. f16: the reference starts from the same
// rounded inputs, so only the output rounding (2^-11 relative, 5e-4 at |out| ≤ 1) and f32 noise remain.
const tolerance = (gpu: Gpu) => (gpu.precision === 'f16' ? { atol: 1e-3, rtol: 2e-3 } : { atol: 5e-6, rtol: 2e-5 });

// Head ratio 1, 4 and 8 at head sizes 64, 128 and 32.
const PREFILL_HEADS: Heads[] = [
  { nHead: 4, nKvHead: 4, headDim: 64 },
  { nHead: 8, nKvHead: 2, headDim: 128 },
  { nHead: 8, nKvHead: 1, headDim: 32 },
];
const PREFILL_TOKENS = [1, 5, 33, 100];
const PREFILL_PAST = [0, 37];

// Decode adds ratio 7 (Qwen2: 7 heads per workgroup, not a power of two) and ratio 16 at head size 128
// (more heads than one workgroup's query memory holds: two head groups per kv head).
const DECODE_HEADS: Heads[] = [...PREFILL_HEADS, { nHead: 14, nKvHead: 2, headDim: 64 }, { nHead: 16, nKvHead: 1, headDim: 128 }];
const DECODE_PAST = [0, 1, 63, 64, 65, 300, 700];

const label = (h: Heads) => `${h.nHead}/${h.nKvHead} heads, d ${h.headDim}`;

for (const gpu of gpus) {
  describe(`attentionPrefill (${gpu.precision})`, () => {
    const cases = PREFILL_HEADS.flatMap((heads) => PREFILL_TOKENS.flatMap((tokens) => PREFILL_PAST.map((past) => [label(heads), tokens, past, heads] as const)));
    it.each(cases)('%s: %i tokens after %i', async (_, tokens, past, heads) => {
      const p = makeProblem(gpu, tokens, past, heads, 100 + tokens * 7 + past + heads.headDim);
      const scale = 1 / Math.sqrt(heads.headDim);
      const rec = new Recorder(gpu);
      attentionPrefill(rec, { q: p.qBuf, k: p.kBuf, v: p.vBuf, out: p.outBuf, tokens, pastLength: past, ...heads });
      rec.submit();
      const got = await readActivations(gpu, p.outBuf, tokens * heads.nHead * heads.headDim);
      const { atol, rtol } = tolerance(gpu);
      expectClose(got, referenceAttention(p.q, p.k, p.v, tokens, past, heads, scale), atol, rtol, `prefill ${label(heads)} T=${tokens} past=${past}`);
      if (tokens + past > 30) expect(maxScore(p.q, p.k, tokens, past, heads, scale)).toBeGreaterThan(5);
      p.release();
    });

    it('prefills in chunks on top of its own cache, as the engine does, with a custom scale', async () => {
      // 70 tokens in chunks of 40 and 30: the second chunk attends to the first chunk's K/V.
      const heads = { nHead: 8, nKvHead: 2, headDim: 64 };
      const total = 70;
      const p = makeProblem(gpu, total, 0, heads, 4242);
      const scale = 0.1;
      const rowElems = heads.nHead * heads.headDim;
      const bpe = gpu.precision === 'f16' ? 2 : 4;
      const rec = new Recorder(gpu);
      let done = 0;
      for (const chunk of [40, 30]) {
        // Each chunk's queries and outputs are their own buffers, as the engine's per-call activations are.
        const qChunk = uploadActivations(gpu, p.q.subarray(done * rowElems, (done + chunk) * rowElems), 'q chunk');
        const outChunk = createActivations(gpu, chunk * rowElems, 'out chunk');
        attentionPrefill(rec, { q: qChunk, k: p.kBuf, v: p.vBuf, out: outChunk, tokens: chunk, pastLength: done, scale, ...heads });
        rec.copy(outChunk, 0, p.outBuf, done * rowElems * bpe, chunk * rowElems * bpe);
        rec.submit();
        done += chunk;
      }
      const got = await readActivations(gpu, p.outBuf, total * rowElems);
      const { atol, rtol } = tolerance(gpu);
      expectClose(got, referenceAttention(p.q, p.k, p.v, total, 0, heads, scale), atol, rtol, 'chunked prefill');
      p.release();
    });
  });

  describe(`attentionDecode (${gpu.precision})`, () => {
    const cases = DECODE_HEADS.flatMap((heads) => DECODE_PAST.map((past) => [label(heads), past, heads] as const));
    it.each(cases)('%s: position %i', async (_, past, heads) => {
      const p = makeProblem(gpu, 1, past, heads, 900 + past * 3 + heads.nHead + heads.headDim);
      const scale = 1 / Math.sqrt(heads.headDim);
      const rec = new Recorder(gpu);
      attentionDecode(rec, { q: p.qBuf, k: p.kBuf, v: p.vBuf, out: p.outBuf, pastLength: past, ...heads });
      rec.submit();
      const got = await readActivations(gpu, p.outBuf, heads.nHead * heads.headDim);
      const { atol, rtol } = tolerance(gpu);
      expectClose(got, referenceAttention(p.q, p.k, p.v, 1, past, heads, scale), atol, rtol, `decode ${label(heads)} past=${past}`);
      if (past > 30) expect(maxScore(p.q, p.k, 1, past, heads, scale)).toBeGreaterThan(5);
      p.release();
    });

    it('uses a caller-provided scratch buffer and a custom scale', async () => {
      const heads = { nHead: 8, nKvHead: 2, headDim: 128 };
      const past = 200;
      const p = makeProblem(gpu, 1, past, heads, 77);
      const scratch = gpu.allocator.createBuffer(attentionDecodeScratchBytes(heads.nHead, heads.nKvHead, heads.headDim), 'scratch');
      const rec = new Recorder(gpu);
      attentionDecode(rec, { q: p.qBuf, k: p.kBuf, v: p.vBuf, out: p.outBuf, pastLength: past, scale: 0.2, scratch, ...heads });
      rec.submit();
      const got = await readActivations(gpu, p.outBuf, heads.nHead * heads.headDim);
      const { atol, rtol } = tolerance(gpu);
      expectClose(got, referenceAttention(p.q, p.k, p.v, 1, past, heads, 0.2), atol, rtol, 'decode with scratch');
      gpu.allocator.release(scratch);
      p.release();
    });
  });
}

describe('attention tiling', () => {
  it('keeps every variant within the 16 KiB of workgroup memory all devices have', () => {
    for (const d of SUPPORTED_HEAD_DIMS) {
      expect(prefillConfig(d).workgroupBytes).toBeLessThanOrEqual(16384);
      for (const ratio of [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 32, 64]) {
        expect(decodePlan(ratio * 2, 2, d, 1000).workgroupBytes).toBeLessThanOrEqual(16384);
      }
    }
  });

  it('splits every decode length into non-empty chunks that cover it', () => {
    for (const heads of [...DECODE_HEADS, { nHead: 32, nKvHead: 8, headDim: 128 }]) {
      for (let length = 1; length <= 5000; length += length < 300 ? 1 : 97) {
        const plan = decodePlan(heads.nHead, heads.nKvHead, heads.headDim, length);
        expect(plan.chunkSize % plan.bk).toBe(0);
        expect(plan.chunks).toBeLessThanOrEqual(plan.maxChunks);
        expect((plan.chunks - 1) * plan.chunkSize).toBeLessThan(length); // the last chunk is not empty
        expect(plan.chunks * plan.chunkSize).toBeGreaterThanOrEqual(length);
      }
      // A long context fills the GPU: at least DECODE_TARGET_WORKGROUPS-ish workgroups, or one per 32 positions.
      const long = decodePlan(heads.nHead, heads.nKvHead, heads.headDim, 4096);
      expect(long.chunks * heads.nKvHead * long.groupsPerKv).toBeGreaterThanOrEqual(Math.min(128, 4096 / 32));
    }
  });
});

describe('attention argument checks', () => {
  it('rejects bad shapes with InvalidArgumentError', async () => {
    const gpu = shared;
    const heads = { nHead: 4, nKvHead: 2, headDim: 64 };
    const p = makeProblem(gpu, 4, 10, heads, 5);
    const base = { q: p.qBuf, k: p.kBuf, v: p.vBuf, out: p.outBuf, tokens: 4, pastLength: 10, ...heads };
    const rec = new Recorder(gpu);
    const bad: [Partial<AttentionPrefillArgs>, RegExp][] = [
      [{ nKvHead: 3 }, /multiple of nKvHead/],
      [{ headDim: 48 }, /headDim 48 is not supported/],
      [{ tokens: 0 }, /tokens \(0\) must be a positive integer/],
      [{ pastLength: -1 }, /pastLength/],
      [{ pastLength: 1.5 }, /pastLength/],
      [{ tokens: 5 }, /q holds/],
      // 10 + 4 positions are filled and 9 more poisoned: 20 + 4 is past the end of the cache buffers.
      [{ pastLength: 20 }, /k cache holds/],
      [{ out: p.qBuf }, /different buffer/],
      [{ scale: Infinity }, /scale/],
    ];
    for (const [change, message] of bad) {
      const args = { ...base, ...change };
      expect(() => attentionPrefill(rec, args)).toThrow(InvalidArgumentError);
      expect(() => attentionPrefill(rec, args)).toThrow(message);
    }
    const decodeArgs = { q: p.qBuf, k: p.kBuf, v: p.vBuf, out: p.outBuf, pastLength: 10, ...heads };
    expect(() => attentionDecode(rec, { ...decodeArgs, pastLength: 23 })).toThrow(/v cache holds|k cache holds/);
    expect(() => attentionDecode(rec, { ...decodeArgs, nHead: 6, nKvHead: 4 })).toThrow(InvalidArgumentError);
    const tiny = gpu.allocator.createBuffer(64, 'tiny scratch');
    expect(() => attentionDecode(rec, { ...decodeArgs, scratch: tiny })).toThrow(/scratch holds/);
    expect(rec.dispatches).toBe(0);
    gpu.allocator.release(tiny);
    p.release();
    releaseAttentionScratch(gpu);
  });
});

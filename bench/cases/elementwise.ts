/**
 * The small kernels of a forward pass and of sampling, at Qwen2-0.5B shapes (d_model 896, 14 heads of 64,
 * d_ff 4864, vocabulary 151936): RMSNorm for one token and a 512-token prefill, RoPE over a prefill's q,
 * SwiGLU gating and the residual add, the token-embedding gather from the full Q4_0 table, and softmax,
 * argmax and top-k (k = 40, 128) over the vocabulary. Each check() recomputes the output on the CPU here.
 */
import { bytesPerActivation, createActivations, readActivations, readBuffer, Recorder, uploadActivations, writeActivations, type Gpu } from '../../src/gpu';
import { add, siluMul } from '../../src/ops/activation';
import { embeddingLookup, uploadTokenIds } from '../../src/ops/embedding';
import { rmsNorm } from '../../src/ops/norm';
import { rope } from '../../src/ops/rope';
import { argmax, topK } from '../../src/ops/sampling';
import { softmax } from '../../src/ops/softmax';
import { destroyQuantMatrix, uploadQuantMatrix } from '../../src/ops/weights';
import { randomFloats, rng } from '../../test/random';
import { dequantizeRow, randomQuantMatrix, referenceRowBytes } from '../../test/reference/ggml_quants';
import type { BenchCase, BenchCheck } from '../types';

const D_MODEL = 896;
const HEADS = 14;
const HEAD_DIM = 64;
const D_FF = 4864;
const VOCAB = 151936;
const PREFILL = 512;

/**
 * The error measure of the float outputs: |got − ref| / (1 + |ref|), absolute for small values and
 * relative for large ones, against a tolerance of a few f32 (or f16) roundings of the kernel's arithmetic.
 */
function compare(got: ArrayLike<number>, ref: ArrayLike<number>, tolerance: number): BenchCheck {
  let maxError = 0;
  let checksum = 0;
  let referenceChecksum = 0;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!) / (1 + Math.abs(ref[i]!));
    maxError = Number.isNaN(err) ? Infinity : Math.max(maxError, err);
    checksum += got[i]!;
    referenceChecksum += ref[i]!;
  }
  return { ok: maxError <= tolerance, maxError, tolerance, checksum, referenceChecksum };
}

/** f32: a few dozen roundings; f16: the output's own rounding (2^-11) and then some. */
const tol = (gpu: Gpu, f32: number) => (gpu.precision === 'f16' ? 3e-3 : f32);

function rmsNormCase(rows: number): BenchCase {
  return {
    name: `rms_norm ${rows}x${D_MODEL}`,
    family: 'norm',
    async setup(gpu) {
      const x = randomFloats(rows * D_MODEL, 11 + rows, 3);
      const w = randomFloats(D_MODEL, 12);
      const xb = uploadActivations(gpu, x, 'x');
      const wb = gpu.allocator.createBufferFrom(w, 'norm weight');
      const out = createActivations(gpu, rows * D_MODEL, 'out');
      return {
        bytesRead: rows * D_MODEL * bytesPerActivation(gpu) + D_MODEL * 4,
        flops: 4 * rows * D_MODEL,
        run: (rec) => rmsNorm(rec, { x: xb, weight: wb, out, rows, cols: D_MODEL, eps: 1e-6 }),
        async check() {
          const got = await readActivations(gpu, out, rows * D_MODEL);
          const xs = await readActivations(gpu, xb, rows * D_MODEL); // as stored (f16-rounded on the f16 path)
          const ref = new Float64Array(rows * D_MODEL);
          for (let r = 0; r < rows; r++) {
            let ss = 0;
            for (let i = 0; i < D_MODEL; i++) ss += xs[r * D_MODEL + i]! ** 2;
            const scale = 1 / Math.sqrt(ss / D_MODEL + 1e-6);
            for (let i = 0; i < D_MODEL; i++) ref[r * D_MODEL + i] = xs[r * D_MODEL + i]! * scale * w[i]!;
          }
          return compare(got, ref, tol(gpu, 1e-5));
        },
        destroy: () => [xb, wb, out].forEach((b) => gpu.allocator.release(b)),
      };
    },
  };
}

const ropeCase: BenchCase = {
  name: `rope halves ${PREFILL}x${HEADS}x${HEAD_DIM}`,
  family: 'rope',
  async setup(gpu) {
    const n = PREFILL * HEADS * HEAD_DIM;
    const x = randomFloats(n, 21, 2);
    const xb = uploadActivations(gpu, x, 'q');
    const args = { x: xb, tokens: PREFILL, heads: HEADS, headDim: HEAD_DIM, offset: 0, base: 1e6, layout: 'halves' as const };
    return {
      bytesRead: n * bytesPerActivation(gpu),
      flops: 6 * (n / 2),
      run: (rec) => rope(rec, args),
      async check() {
        // RoPE works in place, so the timed runs have rotated q many times over: restore it, rotate once.
        writeActivations(gpu, xb, x);
        const xs = await readActivations(gpu, xb, n);
        const rec = new Recorder(gpu);
        rope(rec, args);
        rec.submit();
        const got = await readActivations(gpu, xb, n);
        const ref = Float64Array.from(xs);
        const half = HEAD_DIM / 2;
        for (let t = 0; t < PREFILL; t++) {
          for (let h = 0; h < HEADS; h++) {
            const base = (t * HEADS + h) * HEAD_DIM;
            for (let i = 0; i < half; i++) {
              const angle = t * Math.pow(1e6, (-2 * i) / HEAD_DIM);
              const [x0, x1] = [xs[base + i]!, xs[base + i + half]!];
              ref[base + i] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
              ref[base + i + half] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
            }
          }
        }
        // Positions < 512: the f32 angle is within ~512·8·2^-24 ≈ 2.4e-4 rad of the exact one (see the rope test).
        return compare(got, ref, tol(gpu, 5e-4));
      },
      destroy: () => gpu.allocator.release(xb),
    };
  },
};

function binaryCase(name: 'silu_mul' | 'add', tokens: number, dim: number): BenchCase {
  return {
    name: `${name} ${tokens}x${dim}`,
    family: 'activation',
    async setup(gpu) {
      const n = tokens * dim;
      const a = uploadActivations(gpu, randomFloats(n, 31, 6), 'a');
      const b = uploadActivations(gpu, randomFloats(n, 32, 2), 'b');
      const out = createActivations(gpu, n, 'out');
      return {
        bytesRead: 2 * n * bytesPerActivation(gpu),
        flops: (name === 'add' ? 1 : 5) * n,
        run: (rec) => (name === 'add' ? add(rec, { a, b, out, count: n }) : siluMul(rec, { gate: a, up: b, out, count: n })),
        async check() {
          const [as, bs, got] = await Promise.all([readActivations(gpu, a, n), readActivations(gpu, b, n), readActivations(gpu, out, n)]);
          const ref = Array.from(as, (g, i) => (name === 'add' ? g + bs[i]! : (g / (1 + Math.exp(-g))) * bs[i]!));
          return compare(got, ref, tol(gpu, 1e-5));
        },
        destroy: () => [a, b, out].forEach((buf) => gpu.allocator.release(buf)),
      };
    },
  };
}

const embeddingCase: BenchCase = {
  name: `embedding q4_0 ${PREFILL} of ${VOCAB}x${D_MODEL}`,
  family: 'embedding',
  async setup(gpu) {
    const bytes = randomQuantMatrix('Q4_0', VOCAB, D_MODEL, 41);
    const table = uploadQuantMatrix(gpu, 'Q4_0', VOCAB, D_MODEL, bytes, 'token_embd');
    const r = rng(42);
    const idList = Array.from({ length: PREFILL }, () => Math.floor(r() * VOCAB));
    const ids = uploadTokenIds(gpu, idList, VOCAB);
    const out = createActivations(gpu, PREFILL * D_MODEL, 'embeddings');
    const rb = referenceRowBytes('Q4_0', D_MODEL);
    return {
      bytesRead: PREFILL * rb,
      flops: 0,
      run: (rec) => embeddingLookup(rec, { table, ids, tokens: PREFILL, out }),
      async check() {
        const got = await readActivations(gpu, out, PREFILL * D_MODEL);
        const ref = new Float64Array(PREFILL * D_MODEL);
        idList.forEach((id, t) => ref.set(dequantizeRow('Q4_0', bytes.subarray(id * rb, (id + 1) * rb), D_MODEL), t * D_MODEL));
        return compare(got, ref, tol(gpu, 1e-6));
      },
      destroy() {
        destroyQuantMatrix(gpu, table);
        gpu.allocator.release(ids);
        gpu.allocator.release(out);
      },
    };
  },
};

/** A logits row like a model's: mostly small, a few large, Qwen2's padding past 151646 at −∞. */
function logitsRow(seed: number): Float32Array {
  const v = randomFloats(VOCAB, seed, 8);
  const r = rng(seed + 1);
  for (let i = 0; i < 20; i++) v[Math.floor(r() * VOCAB)] = 15 + r() * 5;
  for (let i = 151646; i < VOCAB; i++) v[i] = -Infinity;
  return v;
}

/** llama.cpp's order: larger first, ties to the lower index. */
function topIndices(v: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: v.length }, (_, i) => i)
    .sort((i, j) => v[j]! - v[i]! || i - j)
    .slice(0, k);
}

const softmaxCase: BenchCase = {
  name: `softmax ${VOCAB}`,
  family: 'softmax',
  async setup(gpu) {
    const xb = uploadActivations(gpu, logitsRow(51), 'logits');
    const out = createActivations(gpu, VOCAB, 'probs');
    return {
      bytesRead: 2 * VOCAB * bytesPerActivation(gpu),
      flops: 0,
      run: (rec) => softmax(rec, { x: xb, out, rows: 1, cols: VOCAB, temperature: 0.8 }),
      async check() {
        const xs = await readActivations(gpu, xb, VOCAB);
        const got = await readActivations(gpu, out, VOCAB);
        const max = xs.reduce((m, v) => Math.max(m, v / 0.8), -Infinity);
        const e = Array.from(xs, (v) => Math.exp(v / 0.8 - max));
        const sum = e.reduce((s, v) => s + v, 0);
        // Probabilities are ≤ 1, so the measure is an absolute error here.
        return compare(got, e.map((v) => v / sum), tol(gpu, 1e-6));
      },
      destroy: () => [xb, out].forEach((b) => gpu.allocator.release(b)),
    };
  },
};

const argmaxCase: BenchCase = {
  name: `argmax ${VOCAB}`,
  family: 'sampling',
  async setup(gpu) {
    const xb = uploadActivations(gpu, logitsRow(61), 'logits');
    const out = gpu.allocator.createBuffer(4, 'token');
    return {
      bytesRead: VOCAB * bytesPerActivation(gpu),
      flops: 0,
      run: (rec) => argmax(rec, { logits: xb, length: VOCAB, out }),
      async check() {
        const xs = await readActivations(gpu, xb, VOCAB);
        const got = new Uint32Array(await readBuffer(gpu, out, 0, 4))[0]!;
        const want = topIndices(xs, 1)[0]!;
        return { ok: got === want, maxError: got === want ? 0 : 1, tolerance: 0, checksum: got, referenceChecksum: want };
      },
      destroy: () => [xb, out].forEach((b) => gpu.allocator.release(b)),
    };
  },
};

function topKCase(k: number): BenchCase {
  return {
    name: `top_k ${k} of ${VOCAB}`,
    family: 'sampling',
    async setup(gpu) {
      const xb = uploadActivations(gpu, logitsRow(71), 'logits');
      const values = gpu.allocator.createBuffer(4 * k, 'top values');
      const indices = gpu.allocator.createBuffer(4 * k, 'top indices');
      return {
        bytesRead: VOCAB * bytesPerActivation(gpu),
        flops: 0,
        run: (rec) => topK(rec, { logits: xb, length: VOCAB, k, outValues: values, outIndices: indices }),
        async check() {
          const xs = await readActivations(gpu, xb, VOCAB);
          const gotIndices = new Uint32Array(await readBuffer(gpu, indices, 0, 4 * k));
          const gotValues = new Float32Array(await readBuffer(gpu, values, 0, 4 * k));
          const want = topIndices(xs, k);
          // Exact: the indices must match and the values be the logits themselves.
          let wrong = 0;
          want.forEach((index, r) => {
            if (gotIndices[r] !== index || gotValues[r] !== xs[index]) wrong++;
          });
          const checksum = gotIndices.reduce((s, v) => s + v, 0);
          return { ok: wrong === 0, maxError: wrong, tolerance: 0, checksum, referenceChecksum: want.reduce((s, v) => s + v, 0) };
        },
        destroy: () => [xb, values, indices].forEach((b) => gpu.allocator.release(b)),
      };
    },
  };
}

export const cases: BenchCase[] = [
  rmsNormCase(1),
  rmsNormCase(PREFILL),
  ropeCase,
  binaryCase('silu_mul', 1, D_FF),
  binaryCase('silu_mul', PREFILL, D_FF),
  binaryCase('add', PREFILL, D_MODEL),
  embeddingCase,
  softmaxCase,
  argmaxCase,
  topKCase(40),
  topKCase(128),
];

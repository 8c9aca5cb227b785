/**
 * Fused attention at real model shapes: decode of one token over a 1024-position cache for Qwen2-0.5B
 * (14 heads, 2 kv heads, head size 64) and Llama-3-8B (32/8/128), and a 512-token prefill at the Qwen2
 * shape. bytesRead is the K+V bytes attended to (what a kernel reading the cache once must move).
 */
import { fromF16Array, readActivations, toF16Array, uploadActivations, bytesPerActivation, type Gpu, type Recorder } from '../../src/gpu';
import { attentionDecode, attentionPrefill, releaseAttentionScratch } from '../../src/ops/attention';
import { randomFloats } from '../../test/random';
import type { BenchCase, BenchCheck, BenchInstance } from '../types';

interface Shape {
  nHead: number;
  nKvHead: number;
  headDim: number;
}

/** Float64 softmax(q·kᵀ·scale)·v for query token t (absolute position past + t) and head h. */
function referenceRow(q: Float32Array, k: Float32Array, v: Float32Array, t: number, h: number, past: number, s: Shape, scale: number): Float64Array {
  const d = s.headDim;
  const kvh = Math.floor(h / (s.nHead / s.nKvHead));
  const positions = past + t + 1;
  const scores = new Float64Array(positions);
  let max = -Infinity;
  for (let j = 0; j < positions; j++) {
    let dot = 0;
    for (let i = 0; i < d; i++) dot += q[(t * s.nHead + h) * d + i]! * k[(j * s.nKvHead + kvh) * d + i]!;
    scores[j] = dot * scale;
    max = Math.max(max, scores[j]!);
  }
  const out = new Float64Array(d);
  let sum = 0;
  for (let j = 0; j < positions; j++) {
    const w = Math.exp(scores[j]! - max);
    sum += w;
    for (let i = 0; i < d; i++) out[i] += w * v[(j * s.nKvHead + kvh) * d + i]!;
  }
  for (let i = 0; i < d; i++) out[i] /= sum;
  return out;
}

function attentionCase(kind: 'decode' | 'prefill', s: Shape, tokens: number, context: number): BenchCase {
  const name =
    kind === 'decode'
      ? `attention decode ${s.nHead}/${s.nKvHead}x${s.headDim} ctx ${context}`
      : `attention prefill ${tokens} tok ${s.nHead}/${s.nKvHead}x${s.headDim}`;
  return {
    name,
    family: 'attention',
    async setup(gpu: Gpu): Promise<BenchInstance> {
      const past = context - tokens;
      const d = s.headDim;
      const asStored = (x: Float32Array) => (gpu.precision === 'f16' ? fromF16Array(toF16Array(x)) : x);
      // ±2.5 inputs: scores of a few units, like a trained model's, so the softmax is not flat.
      const q = asStored(randomFloats(tokens * s.nHead * d, 11, 2.5));
      const k = asStored(randomFloats(context * s.nKvHead * d, 12, 2.5));
      const v = asStored(randomFloats(context * s.nKvHead * d, 13, 1));
      const scale = 1 / Math.sqrt(d);
      const qBuf = uploadActivations(gpu, q, 'bench q');
      const kBuf = uploadActivations(gpu, k, 'bench k cache');
      const vBuf = uploadActivations(gpu, v, 'bench v cache');
      const outBuf = uploadActivations(gpu, new Float32Array(tokens * s.nHead * d), 'bench attention out');
      const bpe = bytesPerActivation(gpu);
      // Score and weighted-sum multiply-adds: every (token, head) pair sees past + t + 1 positions.
      let pairs = 0;
      for (let t = 0; t < tokens; t++) pairs += past + t + 1;
      return {
        bytesRead: 2 * context * s.nKvHead * d * bpe,
        flops: 2 * 2 * pairs * s.nHead * d,
        run(rec: Recorder) {
          const args = { q: qBuf, k: kBuf, v: vBuf, out: outBuf, pastLength: past, ...s };
          if (kind === 'decode') attentionDecode(rec, args);
          else attentionPrefill(rec, { ...args, tokens });
        },
        async check(): Promise<BenchCheck> {
          const got = await readActivations(gpu, outBuf, tokens * s.nHead * d);
          // Every head; for prefill every 13th token and the last (the full float64 reference takes seconds).
          const checked = Array.from({ length: tokens }, (_, t) => t).filter((t) => t % 13 === 0 || t === tokens - 1);
          const tolerance = gpu.precision === 'f16' ? 2e-3 : 1e-5;
          let maxError = 0;
          let checksum = 0;
          let referenceChecksum = 0;
          for (const t of checked) {
            for (let h = 0; h < s.nHead; h++) {
              const want = referenceRow(q, k, v, t, h, past, s, scale);
              for (let i = 0; i < d; i++) {
                const have = got[(t * s.nHead + h) * d + i]!;
                const err = Math.abs(have - want[i]!);
                maxError = Number.isNaN(err) ? Infinity : Math.max(maxError, err);
                checksum += have;
                referenceChecksum += want[i]!;
              }
            }
          }
          return { ok: maxError <= tolerance, maxError, tolerance, checksum, referenceChecksum };
        },
        destroy() {
          for (const b of [qBuf, kBuf, vBuf, outBuf]) gpu.allocator.release(b);
          releaseAttentionScratch(gpu);
        },
      };
    },
  };
}

const QWEN2_05B: Shape = { nHead: 14, nKvHead: 2, headDim: 64 };
const LLAMA_8B: Shape = { nHead: 32, nKvHead: 8, headDim: 128 };

export const cases: BenchCase[] = [
  attentionCase('decode', QWEN2_05B, 1, 1024),
  attentionCase('decode', LLAMA_8B, 1, 1024),
  attentionCase('prefill', QWEN2_05B, 512, 512),
];

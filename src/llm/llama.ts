/**
 * The forward pass of the llama family (llama: Llama 2/3, TinyLlama, SmolLM, Mistral-style; qwen2: the same
 * with q/k/v biases and NeoX "halves" RoPE). Read it top to bottom like llama2.c's forward(): every line is
 * one GPU op, recorded into `rec`; nothing here waits for the GPU.
 */
import { InvalidArgumentError } from '../errors';
import { bytesPerActivation, createActivations, type Gpu, type Recorder } from '../gpu';
import { siluMul } from '../ops/activation';
import { attentionDecode, attentionPrefill } from '../ops/attention';
import { embeddingLookup } from '../ops/embedding';
import { matmul } from '../ops/matmul';
import { matvec } from '../ops/matvec';
import { rmsNorm } from '../ops/norm';
import { rope } from '../ops/rope';
import type { QuantMatrix } from '../ops/weights';
import type { ModelConfig } from './config';
import type { KvCache } from './kv_cache';
import type { ModelWeights } from './model_weights';

/** y = x·Wᵀ (+ bias) (+ residual): the decode kernel for one token, the tiled one for many. */
function linear(rec: Recorder, w: QuantMatrix, x: GPUBuffer, y: GPUBuffer, tokens: number, extra: { bias?: GPUBuffer; residual?: GPUBuffer } = {}): void {
  if (tokens === 1) matvec(rec, { weight: w, x, y, ...extra });
  else matmul(rec, { weight: w, x, y, tokens, ...extra });
}

/** Activation buffers for up to `maxTokens` tokens per forward call, allocated once per model. */
class Scratch {
  readonly x: GPUBuffer; // residual stream [T, d]
  readonly h: GPUBuffer; // normed input of attention / ffn [T, d]
  readonly q: GPUBuffer; // [T, nHeads·headDim]
  readonly k: GPUBuffer; // [T, nKvHeads·headDim]
  readonly v: GPUBuffer;
  readonly attn: GPUBuffer; // attention output [T, nHeads·headDim]
  readonly gate: GPUBuffer; // [T, dFf]
  readonly up: GPUBuffer;
  readonly ffn: GPUBuffer; // silu(gate)·up [T, dFf]
  readonly lastRow: GPUBuffer; // the last token's residual [d] (logits are computed for it alone)
  readonly lastNormed: GPUBuffer;
  readonly logits: GPUBuffer; // [vocab]: the last token's logits
  readonly tokenIds: GPUBuffer; // u32 [T]

  constructor(gpu: Gpu, c: ModelConfig, readonly maxTokens: number) {
    const act = (n: number, name: string) => createActivations(gpu, n, name);
    this.x = act(maxTokens * c.dModel, 'x');
    this.h = act(maxTokens * c.dModel, 'h');
    this.q = act(maxTokens * c.nHeads * c.headDim, 'q');
    this.k = act(maxTokens * c.nKvHeads * c.headDim, 'k');
    this.v = act(maxTokens * c.nKvHeads * c.headDim, 'v');
    this.attn = act(maxTokens * c.nHeads * c.headDim, 'attn');
    this.gate = act(maxTokens * c.dFf, 'gate');
    this.up = act(maxTokens * c.dFf, 'up');
    this.ffn = act(maxTokens * c.dFf, 'ffn');
    this.lastRow = act(c.dModel, 'last row');
    this.lastNormed = act(c.dModel, 'last normed');
    this.logits = act(c.vocabSize, 'logits');
    this.tokenIds = gpu.allocator.createBuffer(maxTokens * 4, 'token ids');
  }

  destroy(gpu: Gpu): void {
    for (const b of [this.x, this.h, this.q, this.k, this.v, this.attn, this.gate, this.up, this.ffn, this.lastRow, this.lastNormed, this.logits, this.tokenIds]) {
      gpu.allocator.release(b);
    }
  }
}

export class LlamaModel {
  readonly scratch: Scratch;

  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly cache: KvCache,
    /** Tokens per forward call (the prefill chunk). */
    readonly maxTokens: number,
  ) {
    this.scratch = new Scratch(gpu, config, maxTokens);
  }

  /**
   * Runs `tokens` (≤ maxTokens) at the cache's current position and appends their keys and values to the
   * cache. Leaves the last token's logits in scratch.logits, or, when `allLogits` is given (a
   * [tokens, vocab] buffer), every token's logits there. Records only; the caller submits.
   */
  forward(rec: Recorder, tokens: readonly number[], { allLogits }: { allLogits?: GPUBuffer } = {}): void {
    const c = this.config;
    const w = this.weights;
    const s = this.scratch;
    const T = tokens.length;
    if (T < 1 || T > this.maxTokens) throw new InvalidArgumentError(`forward: ${T} tokens (1..${this.maxTokens} per call)`);
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InvalidArgumentError(`token id ${id} is outside the vocabulary (0..${c.vocabSize - 1})`);
    }
    this.cache.reserve(T);
    const pos = this.cache.length;
    const kvBytes = T * this.cache.rowBytes;
    this.gpu.device.queue.writeBuffer(s.tokenIds, 0, new Uint32Array(tokens));

    const ropeArgs = {
      headDim: c.headDim, ropeDim: c.ropeDim, offset: pos, base: c.ropeBase, layout: c.ropeStyle,
      freqScale: c.ropeFreqScale, freqFactors: w.ropeFreqs,
    };

    embeddingLookup(rec, { table: w.tokenEmbedding, ids: s.tokenIds, out: s.x, tokens: T });
    for (const [i, L] of w.layers.entries()) {
      // attention
      rmsNorm(rec, { x: s.x, weight: L.attnNorm, out: s.h, rows: T, cols: c.dModel, eps: c.rmsEps });
      linear(rec, L.wq, s.h, s.q, T, { bias: L.bq });
      linear(rec, L.wk, s.h, s.k, T, { bias: L.bk });
      linear(rec, L.wv, s.h, s.v, T, { bias: L.bv });
      rope(rec, { x: s.q, tokens: T, heads: c.nHeads, ...ropeArgs });
      rope(rec, { x: s.k, tokens: T, heads: c.nKvHeads, ...ropeArgs });
      rec.copy(s.k, 0, this.cache.keys[i]!, pos * this.cache.rowBytes, kvBytes);
      rec.copy(s.v, 0, this.cache.values[i]!, pos * this.cache.rowBytes, kvBytes);
      const heads = { nHead: c.nHeads, nKvHead: c.nKvHeads, headDim: c.headDim };
      if (T === 1) attentionDecode(rec, { q: s.q, k: this.cache.keys[i]!, v: this.cache.values[i]!, out: s.attn, pastLength: pos, ...heads });
      else attentionPrefill(rec, { q: s.q, k: this.cache.keys[i]!, v: this.cache.values[i]!, out: s.attn, tokens: T, pastLength: pos, ...heads });
      linear(rec, L.wo, s.attn, s.x, T, { residual: s.x });
      // feed-forward (SwiGLU)
      rmsNorm(rec, { x: s.x, weight: L.ffnNorm, out: s.h, rows: T, cols: c.dModel, eps: c.rmsEps });
      linear(rec, L.wGate, s.h, s.gate, T);
      linear(rec, L.wUp, s.h, s.up, T);
      siluMul(rec, { gate: s.gate, up: s.up, out: s.ffn, count: T * c.dFf });
      linear(rec, L.wDown, s.ffn, s.x, T, { residual: s.x });
    }
    if (allLogits) {
      rmsNorm(rec, { x: s.x, weight: w.outputNorm, out: s.h, rows: T, cols: c.dModel, eps: c.rmsEps });
      linear(rec, w.output, s.h, allLogits, T);
    } else {
      const rowBytes = c.dModel * bytesPerActivation(this.gpu);
      rec.copy(s.x, (T - 1) * rowBytes, s.lastRow, 0, rowBytes);
      rmsNorm(rec, { x: s.lastRow, weight: w.outputNorm, out: s.lastNormed, rows: 1, cols: c.dModel, eps: c.rmsEps });
      matvec(rec, { weight: w.output, x: s.lastNormed, y: s.logits });
    }
    this.cache.length += T;
  }

  destroy(): void {
    this.scratch.destroy(this.gpu);
  }
}

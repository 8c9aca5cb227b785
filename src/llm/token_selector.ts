/**
 * Chooses the next token after a forward pass, reading back as little as possible: one u32 for greedy
 * decoding; K candidates plus log Σ exp for sampling; the whole logits row only when the sampler chain
 * cannot be decided from the candidates (see sampler.ts).
 */
import { readActivations, type Gpu, type Recorder } from '../gpu';
import { adjustLogits, adjustmentBytes, logSumExp, logSumExpScratchBytes, packAdjustments } from '../ops/logits';
import { argmax, TOP_K_MAX, topK } from '../ops/sampling';
import {
  candidatesFromRow,
  drawToken,
  filterCandidates,
  logitAdjustments,
  type Random,
  type SamplingParams,
} from './sampler';

/** Candidates read back when sampling without a top_k below this. */
const DEFAULT_CANDIDATES = 64;

export class TokenSelector {
  private readonly values: GPUBuffer;
  private readonly indices: GPUBuffer;
  private readonly lse: GPUBuffer;
  private readonly lseScratch: GPUBuffer;
  private adjustments: GPUBuffer;
  private adjustmentCapacity = 64;
  /** One mappable buffer for every small readback: [K values f32][K indices u32][lse f32]. */
  private readonly staging: GPUBuffer;
  private readonly stagingBytes: number;

  constructor(
    private readonly gpu: Gpu,
    private readonly vocabSize: number,
  ) {
    const k = TOP_K_MAX;
    this.values = gpu.allocator.createBuffer(k * 4, 'topk values');
    this.indices = gpu.allocator.createBuffer(k * 4, 'topk indices');
    this.lse = gpu.allocator.createBuffer(16, 'logsumexp');
    this.lseScratch = gpu.allocator.createBuffer(logSumExpScratchBytes(vocabSize), 'logsumexp scratch');
    this.adjustments = gpu.allocator.createBuffer(adjustmentBytes(this.adjustmentCapacity), 'logit adjustments');
    this.stagingBytes = k * 8 + 16;
    this.staging = gpu.device.createBuffer({ size: this.stagingBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'selection readback' });
  }

  /**
   * Records the selection ops for `logits` (one row) into `rec`, submits, and resolves to the chosen token.
   * `history` is every token of the sequence so far (prompt and generated), for the penalties.
   */
  async select(rec: Recorder, logits: GPUBuffer, p: SamplingParams, history: readonly number[], rng: Random): Promise<number> {
    const adj = logitAdjustments(p, history);
    if (adj.length > 0) {
      if (adj.length > this.adjustmentCapacity) {
        this.gpu.allocator.release(this.adjustments);
        this.adjustmentCapacity = 2 ** Math.ceil(Math.log2(adj.length));
        this.adjustments = this.gpu.allocator.createBuffer(adjustmentBytes(this.adjustmentCapacity), 'logit adjustments');
      }
      this.gpu.device.queue.writeBuffer(this.adjustments, 0, packAdjustments(adj, this.vocabSize));
      adjustLogits(rec, {
        logits, adjustments: this.adjustments, count: adj.length,
        repetitionPenalty: p.repetitionPenalty, frequencyPenalty: p.frequencyPenalty, presencePenalty: p.presencePenalty,
      });
    }
    const enc = () => rec.commandEncoder();
    if (p.temperature <= 0) {
      argmax(rec, { logits, length: this.vocabSize, out: this.indices });
      enc().copyBufferToBuffer(this.indices, 0, this.staging, 0, 4);
      const [id] = new Uint32Array(await this.read(rec, 4));
      return id!;
    }
    const wantAll = p.topK > TOP_K_MAX;
    const k = Math.min(this.vocabSize, wantAll ? TOP_K_MAX : p.topK > 0 ? p.topK : DEFAULT_CANDIDATES);
    topK(rec, { logits, length: this.vocabSize, k, outValues: this.values, outIndices: this.indices });
    logSumExp(rec, { logits, length: this.vocabSize, scratch: this.lseScratch, out: this.lse });
    enc().copyBufferToBuffer(this.values, 0, this.staging, 0, k * 4);
    enc().copyBufferToBuffer(this.indices, 0, this.staging, TOP_K_MAX * 4, k * 4);
    enc().copyBufferToBuffer(this.lse, 0, this.staging, TOP_K_MAX * 8, 4);
    const bytes = await this.read(rec, this.stagingBytes);
    const candidates = {
      logits: new Float32Array(bytes, 0, k),
      ids: new Uint32Array(bytes, TOP_K_MAX * 4, k),
      logSumExp: new Float32Array(bytes, TOP_K_MAX * 8, 1)[0]!,
      complete: k === this.vocabSize,
    };
    let survivors = wantAll ? ('need-all' as const) : filterCandidates(candidates, p);
    if (survivors === 'need-all') {
      // Rare: a flat distribution with top_p alone, or top_k above TOP_K_MAX. Read the whole row.
      const row = await readActivations(this.gpu, logits, this.vocabSize);
      survivors = filterCandidates(candidatesFromRow(row), p);
      if (survivors === 'need-all') throw new Error('unreachable: a complete row always decides');
    }
    return drawToken(survivors, p.temperature, rng);
  }

  private async read(rec: Recorder, bytes: number): Promise<ArrayBuffer> {
    rec.submit();
    try {
      await this.staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      // A device lost mid-generation rejects the map with a bare DOMException: report it as DeviceLostError.
      this.gpu.assertAlive();
      throw e;
    }
    const out = this.staging.getMappedRange(0, bytes).slice(0);
    this.staging.unmap();
    await this.gpu.checkErrors();
    return out;
  }

  destroy(): void {
    for (const b of [this.values, this.indices, this.lse, this.lseScratch, this.adjustments]) this.gpu.allocator.release(b);
    this.staging.destroy();
  }
}

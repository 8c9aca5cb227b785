/**
 * The generation loop's DecoderEngine (src/llm/generate.ts) on an OrtDecoder: logits come back to JS
 * memory every step, so tokens are selected on the CPU (src/llm/cpu_select.ts) with the same sampler chain
 * as the GPU path. Prefix reuse slices the KV cache (OrtDecoder.truncateTo).
 */
import { InvalidArgumentError } from '../../errors';
import { selectFromRow } from '../../llm/cpu_select';
import type { DecoderEngine } from '../../llm/generate';
import type { Random, SamplingParams } from '../../llm/sampler';
import type { OrtDecoder } from './ort_decoder';

export class OrtEngine implements DecoderEngine {
  private last: Float32Array | undefined;

  constructor(
    readonly decoder: OrtDecoder,
    readonly contextLength: number,
    /** Tokens per prefill call: bounds the [chunk, vocab] logits and the attention scores of one run. */
    readonly maxTokens = 128,
  ) {}

  get length(): number {
    return this.decoder.length;
  }

  async forward(tokens: readonly number[], more: boolean): Promise<void> {
    const r = await this.decoder.forward(tokens);
    this.last = more ? undefined : r.last;
  }

  async select(sampling: SamplingParams, history: readonly number[], rng: Random): Promise<number> {
    if (!this.last) throw new InvalidArgumentError('select: no logits (forward the last chunk first)');
    const row = this.last;
    this.last = undefined;
    return selectFromRow(row, sampling, history, rng);
  }

  async forwardAll(tokens: readonly number[]): Promise<Float32Array[]> {
    this.last = undefined;
    return (await this.decoder.forward(tokens, { allLogits: true })).all!;
  }

  truncateTo(length: number): void {
    this.last = undefined;
    this.decoder.truncateTo(length);
  }
}

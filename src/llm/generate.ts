/**
 * The generation loop: prefill the prompt in chunks, then decode one token per step until end of
 * sequence, a stop string, max_tokens, the context's end, or an abort. Yields text as it becomes final.
 */
import { AbortError, ContextOverflowError } from '../errors';
import { createActivations, readActivations, Recorder } from '../gpu';
import type { FinishReason, Timings } from './api_types';
import type { LlamaModel } from './llama';
import { Random, type SamplingParams } from './sampler';
import { StopStringFilter } from './stop_strings';
import type { TokenSelector } from './token_selector';

/** What the loop needs of a tokenizer. */
export interface TextDecoderLike {
  createStreamDecoder(): { push(id: number): string; flush(): string };
  isEndOfGeneration(id: number): boolean;
}

export interface GenerationResult {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  tokens: number[];
  timings: Timings;
}

export interface GenerationRequest {
  prompt: number[];
  sampling: SamplingParams;
  maxTokens: number;
  stop: string[];
  signal?: AbortSignal;
}

/**
 * Keeps the KV cache in step with the tokens it holds, so a new request that starts with the same tokens
 * (the usual case in a chat) only prefills what is new.
 */
export class Session {
  /** Tokens whose keys and values are in the cache, in order. */
  private cached: number[] = [];

  constructor(
    readonly model: LlamaModel,
    readonly selector: TokenSelector,
  ) {}

  async *generate(req: GenerationRequest, tokenizer: TextDecoderLike): AsyncGenerator<string, GenerationResult> {
    const { model } = this;
    const ctx = model.cache.contextLength;
    const t0 = performance.now();
    if (req.prompt.length === 0) throw new ContextOverflowError(0, ctx, 'the prompt is empty: give at least one token (e.g. BOS)');
    if (req.prompt.length > ctx) throw new ContextOverflowError(req.prompt.length, ctx);
    throwIfAborted(req.signal);

    // Reuse the cached prefix; at least the last prompt token is always run, to get its logits.
    let reuse = 0;
    while (reuse < this.cached.length && reuse < req.prompt.length - 1 && this.cached[reuse] === req.prompt[reuse]) reuse++;
    this.truncateTo(reuse);

    const history = [...req.prompt];
    const rng = new Random(req.sampling.seed);
    let rec = new Recorder(model.gpu);
    for (let at = reuse; at < req.prompt.length; at += model.maxTokens) {
      const chunk = req.prompt.slice(at, Math.min(req.prompt.length, at + model.maxTokens));
      model.forward(rec, chunk);
      this.cached.push(...chunk);
      if (at + chunk.length < req.prompt.length) {
        rec.submit(); // let the GPU start on this chunk; abort is checked between chunks
        await model.gpu.device.queue.onSubmittedWorkDone();
        throwIfAborted(req.signal);
        rec = new Recorder(model.gpu);
      }
    }
    let next = await this.selector.select(rec, model.scratch.logits, req.sampling, history, rng);
    const tFirst = performance.now();

    const decoder = tokenizer.createStreamDecoder();
    const stops = new StopStringFilter(req.stop);
    const generated: number[] = [];
    let finishReason: FinishReason = 'length';
    // max_tokens 0: prefill only (the prompt is cached), nothing generated.
    while (req.maxTokens > 0) {
      if (tokenizer.isEndOfGeneration(next)) {
        finishReason = 'stop';
        break;
      }
      generated.push(next);
      history.push(next);
      const text = stops.push(decoder.push(next));
      if (text) yield text;
      if (stops.hasStopped) {
        finishReason = 'stop';
        break;
      }
      if (generated.length >= req.maxTokens || model.cache.length >= ctx) break;
      throwIfAborted(req.signal);
      rec = new Recorder(model.gpu);
      model.forward(rec, [next]);
      this.cached.push(next);
      next = await this.selector.select(rec, model.scratch.logits, req.sampling, history, rng);
    }
    if (!stops.hasStopped) {
      const tail = stops.push(decoder.flush()) + stops.flush();
      if (tail) yield tail;
    }
    const tEnd = performance.now();
    const promptRun = req.prompt.length - reuse;
    const decodeSteps = Math.max(0, generated.length - (finishReason === 'stop' && generated.length === 0 ? 0 : 1));
    return {
      finishReason,
      promptTokens: req.prompt.length,
      completionTokens: generated.length,
      tokens: generated,
      timings: {
        time_to_first_token_ms: tFirst - t0,
        prefill_tokens_per_second: promptRun / ((tFirst - t0) / 1000),
        decode_tokens_per_second: decodeSteps > 0 ? decodeSteps / ((tEnd - tFirst) / 1000) : 0,
        total_ms: tEnd - t0,
      },
    };
  }

  /**
   * Logits at every position of `tokens`, evaluated from an empty context (for perplexity and fidelity
   * checks). Reads back one [chunk, vocab] block per prefill chunk.
   */
  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    const { model } = this;
    if (tokens.length > model.cache.contextLength) throw new ContextOverflowError(tokens.length, model.cache.contextLength);
    const vocab = model.config.vocabSize;
    const block = createActivations(model.gpu, model.maxTokens * vocab, 'all logits');
    try {
      this.reset();
      const rows: Float32Array[] = [];
      for (let at = 0; at < tokens.length; at += model.maxTokens) {
        const chunk = tokens.slice(at, at + model.maxTokens);
        const rec = new Recorder(model.gpu);
        model.forward(rec, chunk, { allLogits: block });
        this.cached.push(...chunk);
        rec.submit();
        const values = await readActivations(model.gpu, block, chunk.length * vocab);
        for (let t = 0; t < chunk.length; t++) rows.push(values.slice(t * vocab, (t + 1) * vocab));
      }
      return rows;
    } finally {
      model.gpu.allocator.release(block);
    }
  }

  /** Drops cached positions from `length` on (their K/V are simply overwritten later). */
  truncateTo(length: number): void {
    this.cached.length = Math.min(this.cached.length, length);
    this.model.cache.length = this.cached.length;
  }

  reset(): void {
    this.truncateTo(0);
  }

}

/** Called only between GPU steps, where the cache holds exactly `cached`, so the session stays reusable. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason instanceof Error ? `generation aborted: ${signal.reason.message}` : 'generation aborted');
}

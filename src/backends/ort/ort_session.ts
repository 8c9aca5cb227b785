/**
 * The generation loop over an OrtDecoder, with the same contract as the native Session
 * (src/llm/generate.ts): prefix reuse, prefill then one token per step, llama.cpp's sampler chain on the
 * CPU from the logits row, stop strings, max_tokens, context end, AbortSignal between steps.
 *
 * TODO(ort): fold into the generic loop of src/llm/generate.ts once it takes a decoder interface (the
 * exporter's work); this file then shrinks to the token selection from a CPU row.
 */
import { AbortError, ContextOverflowError } from '../../errors';
import type { FinishReason } from '../../llm/api_types';
import type { GenerationRequest, GenerationResult, TextDecoderLike } from '../../llm/generate';
import { adjustLogit, candidatesFromRow, drawToken, filterCandidates, logitAdjustments, Random, type SamplingParams } from '../../llm/sampler';
import { StopStringFilter } from '../../llm/stop_strings';
import type { OrtDecoder } from './ort_decoder';

/** Chooses a token from a full logits row: penalties and biases, then top_k → top_p → min_p → temperature. */
export function selectFromRow(row: Float32Array, p: SamplingParams, history: readonly number[], rng: Random): number {
  const adjusted = row.slice();
  for (const a of logitAdjustments(p, history)) adjusted[a.id] = adjustLogit(adjusted[a.id]!, a, p);
  if (p.temperature <= 0) {
    let best = 0;
    for (let i = 1; i < adjusted.length; i++) if (adjusted[i]! > adjusted[best]!) best = i;
    return best;
  }
  const survivors = filterCandidates(candidatesFromRow(adjusted), p);
  if (survivors === 'need-all') throw new Error('unreachable: a complete row always decides');
  return drawToken(survivors, p.temperature, rng);
}

export class OrtSession {
  private cached: number[] = [];

  constructor(
    readonly decoder: OrtDecoder,
    readonly contextLength: number,
    /** Tokens per prefill call (bounds the attention matrix of one run). */
    readonly prefillChunk = 128,
  ) {}

  async *generate(req: GenerationRequest, tokenizer: TextDecoderLike): AsyncGenerator<string, GenerationResult> {
    const ctx = this.contextLength;
    const t0 = performance.now();
    if (req.prompt.length === 0) throw new ContextOverflowError(0, ctx, 'the prompt is empty: give at least one token (e.g. BOS)');
    if (req.prompt.length > ctx) throw new ContextOverflowError(req.prompt.length, ctx);
    throwIfAborted(req.signal);

    let reuse = 0;
    while (reuse < this.cached.length && reuse < req.prompt.length - 1 && this.cached[reuse] === req.prompt[reuse]) reuse++;
    reuse = this.truncateTo(reuse);

    const history = [...req.prompt];
    const rng = new Random(req.sampling.seed);
    let row!: Float32Array;
    for (let at = reuse; at < req.prompt.length; at += this.prefillChunk) {
      const chunk = req.prompt.slice(at, Math.min(req.prompt.length, at + this.prefillChunk));
      row = await this.step(chunk);
      if (at + chunk.length < req.prompt.length) throwIfAborted(req.signal);
    }
    let next = selectFromRow(row, req.sampling, history, rng);
    const tFirst = performance.now();

    const decoder = tokenizer.createStreamDecoder();
    const stops = new StopStringFilter(req.stop);
    const generated: number[] = [];
    let finishReason: FinishReason = 'length';
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
      if (generated.length >= req.maxTokens || this.cached.length >= ctx) break;
      throwIfAborted(req.signal);
      row = await this.step([next]);
      next = selectFromRow(row, req.sampling, history, rng);
    }
    if (!stops.hasStopped) {
      const tail = stops.push(decoder.flush()) + stops.flush();
      if (tail) yield tail;
    }
    const tEnd = performance.now();
    const decodeSteps = Math.max(0, generated.length - (finishReason === 'stop' && generated.length === 0 ? 0 : 1));
    return {
      finishReason,
      promptTokens: req.prompt.length,
      completionTokens: generated.length,
      tokens: generated,
      timings: {
        time_to_first_token_ms: tFirst - t0,
        prefill_tokens_per_second: (req.prompt.length - reuse) / ((tFirst - t0) / 1000),
        decode_tokens_per_second: decodeSteps > 0 ? decodeSteps / ((tEnd - tFirst) / 1000) : 0,
        total_ms: tEnd - t0,
      },
    };
  }

  /** Logits at every position of `tokens`, from an empty context. */
  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    if (tokens.length > this.contextLength) throw new ContextOverflowError(tokens.length, this.contextLength);
    this.truncateTo(0);
    const rows: Float32Array[] = [];
    for (let at = 0; at < tokens.length; at += this.prefillChunk) {
      const chunk = tokens.slice(at, at + this.prefillChunk);
      const r = await this.decoder.forward(chunk, { allLogits: true });
      this.cached.push(...chunk);
      rows.push(...r.all!);
    }
    return rows;
  }

  /** Keeps the first `n` cached tokens where the decoder can (a GPU-resident cache restarts from 0). */
  truncateTo(n: number): number {
    if (n >= this.cached.length) return this.cached.length;
    try {
      this.decoder.truncateTo(n);
      this.cached.length = n;
    } catch {
      this.decoder.reset();
      this.cached.length = 0;
    }
    return this.cached.length;
  }

  private async step(tokens: number[]): Promise<Float32Array> {
    try {
      const r = await this.decoder.forward(tokens);
      this.cached.push(...tokens);
      return r.last;
    } catch (e) {
      // The decoder's cache state is unknown after a failed run: start over next time.
      this.decoder.reset();
      this.cached.length = 0;
      throw e;
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason instanceof Error ? `generation aborted: ${signal.reason.message}` : 'generation aborted');
}

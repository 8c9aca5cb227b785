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
import { nextTask } from '../next_task';

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
 * What the generation loop needs of an engine: a KV cache it appends to, logits it selects from. The
 * native engine (our kernels, below) and the onnxruntime one (src/backends/ort/ort_engine.ts) implement it.
 */
export interface DecoderEngine {
  /** Positions the KV cache holds. */
  readonly contextLength: number;
  /** Tokens per forward call (the prefill chunk). */
  readonly maxTokens: number;
  /** Tokens whose keys and values are cached (kept in step with the session's bookkeeping). */
  readonly length: number;
  /**
   * Runs `tokens` (≤ maxTokens) after the cached ones. `more`: another chunk follows, so the engine should
   * finish this one (the loop checks abort between chunks); otherwise select() follows. An engine that
   * orders all later work after this chunk's may return as soon as `signal` aborts, without waiting for it.
   */
  forward(tokens: readonly number[], more: boolean, signal?: AbortSignal): Promise<void>;
  /** The next token from the last forward's last-position logits. `history`: the sequence so far (penalties). */
  select(sampling: SamplingParams, history: readonly number[], rng: Random): Promise<number>;
  /** Runs `tokens` (≤ maxTokens) after the cached ones and returns every position's logits. */
  forwardAll(tokens: readonly number[]): Promise<Float32Array[]>;
  /** Keeps the first `length` cached positions. */
  truncateTo(length: number): void;
}

/** Our WGSL engine: LlamaModel's forward recorded, then the GPU TokenSelector, in one submission. */
export class NativeEngine implements DecoderEngine {
  private rec: Recorder | undefined;
  constructor(readonly model: LlamaModel, readonly selector: TokenSelector) {}

  get contextLength(): number {
    return this.model.cache.contextLength;
  }
  get maxTokens(): number {
    return this.model.maxTokens;
  }
  get length(): number {
    return this.model.cache.length;
  }

  async forward(tokens: readonly number[], more: boolean, signal?: AbortSignal): Promise<void> {
    const rec = new Recorder(this.model.gpu);
    this.model.forward(rec, tokens);
    if (!more) {
      this.rec = rec; // select() records into the same submission
      return;
    }
    rec.submit(); // let the GPU start on this chunk; abort is checked between chunks
    const done = this.model.gpu.device.queue.onSubmittedWorkDone();
    // The GPU queue runs whatever is submitted next after this chunk, so the cache holds its positions
    // whether or not we wait: an abort need not wait for a prefill chunk (seconds on a slow GPU).
    if (signal) {
      done.catch(() => {}); // abandoned on abort; a GPU failure shows at the next submission's check
      await untilAborted(done, signal);
    } else await done;
  }

  select(sampling: SamplingParams, history: readonly number[], rng: Random): Promise<number> {
    const rec = this.rec ?? new Recorder(this.model.gpu);
    this.rec = undefined;
    return this.selector.select(rec, this.model.scratch.logits, sampling, history, rng);
  }

  async forwardAll(tokens: readonly number[]): Promise<Float32Array[]> {
    const { model } = this;
    const vocab = model.config.vocabSize;
    const block = createActivations(model.gpu, tokens.length * vocab, 'all logits');
    try {
      const rec = new Recorder(model.gpu);
      model.forward(rec, tokens, { allLogits: block });
      rec.submit();
      const values = await readActivations(model.gpu, block, tokens.length * vocab);
      return Array.from({ length: tokens.length }, (_, t) => values.slice(t * vocab, (t + 1) * vocab));
    } finally {
      model.gpu.allocator.release(block);
    }
  }

  truncateTo(length: number): void {
    this.model.cache.length = length; // the K/V beyond are simply overwritten later
  }
}

/**
 * Keeps the KV cache in step with the tokens it holds, so a new request that starts with the same tokens
 * (the usual case in a chat) only prefills what is new. Runs on any DecoderEngine.
 */
export class GenerationSession {
  /** Tokens whose keys and values are in the cache, in order. */
  private cached: number[] = [];

  constructor(readonly engine: DecoderEngine) {}

  async *generate(req: GenerationRequest, tokenizer: TextDecoderLike): AsyncGenerator<string, GenerationResult> {
    const { engine } = this;
    const ctx = engine.contextLength;
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
    for (let at = reuse; at < req.prompt.length; at += engine.maxTokens) {
      const chunk = req.prompt.slice(at, Math.min(req.prompt.length, at + engine.maxTokens));
      const more = at + chunk.length < req.prompt.length;
      await engine.forward(chunk, more, req.signal);
      this.cached.push(...chunk);
      if (more) {
        if (req.signal) await nextTask(); // let an abort message reach this thread
        throwIfAborted(req.signal);
      }
    }
    let next = await engine.select(req.sampling, history, rng);
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
      if (generated.length >= req.maxTokens || engine.length >= ctx) break;
      if (req.signal) await nextTask(); // let an abort message reach this thread
      throwIfAborted(req.signal);
      await engine.forward([next], false);
      this.cached.push(next);
      next = await engine.select(req.sampling, history, rng);
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
   * checks), one prefill chunk at a time.
   */
  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    const { engine } = this;
    if (tokens.length > engine.contextLength) throw new ContextOverflowError(tokens.length, engine.contextLength);
    this.reset();
    const rows: Float32Array[] = [];
    for (let at = 0; at < tokens.length; at += engine.maxTokens) {
      const chunk = tokens.slice(at, at + engine.maxTokens);
      rows.push(...(await engine.forwardAll(chunk)));
      this.cached.push(...chunk);
    }
    return rows;
  }

  /** Drops cached positions from `length` on. */
  truncateTo(length: number): void {
    this.cached.length = Math.min(this.cached.length, length);
    this.engine.truncateTo(this.cached.length);
  }

  reset(): void {
    this.truncateTo(0);
  }
}

/** The generation session of our WGSL engine (LlamaModel + GPU TokenSelector). */
export class Session extends GenerationSession {
  constructor(
    readonly model: LlamaModel,
    readonly selector: TokenSelector,
  ) {
    super(new NativeEngine(model, selector));
  }
}

/** `p`, or as soon as `signal` aborts (then without waiting for `p`). */
function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Called only between engine steps, where the cache holds exactly `cached`, so the session stays reusable. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason instanceof Error ? `generation aborted: ${signal.reason.message}` : 'generation aborted');
}

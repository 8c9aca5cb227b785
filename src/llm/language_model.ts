/**
 * A loaded GGUF language model with the OpenAI-shaped API: `completions.create`, `chat.completions.create`
 * (both with `stream: true`), `tokenizer`, `info`, `unload()`. Requests run one at a time, in the order
 * they were made.
 */
import { InvalidArgumentError } from '../errors';
import type { GgufFile } from '../formats/gguf';
import type { Gpu } from '../gpu';
import type { ModelConfig } from './config';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  Completion,
  CompletionChunk,
  CompletionRequest,
  SamplingOptions,
} from './api_types';
import type { GenerationResult, GenerationSession } from './generate';
import { DEFAULT_SAMPLING, type SamplingParams } from './sampler';

/** The tokenizer surface the model exposes (built from the GGUF metadata). */
export interface ModelTokenizer {
  encode(text: string, options?: { addBos?: boolean; parseSpecial?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string;
  createStreamDecoder(): { push(id: number): string; flush(): string };
  isEndOfGeneration(id: number): boolean;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

export interface ModelInfo {
  name: string;
  architecture: string;
  /** 'webgpu': our kernels; 'ort-webgpu' / 'wasm': onnxruntime-web's WebGPU / WASM execution provider (src/backends/ort). */
  backend: 'webgpu' | 'ort-webgpu' | 'wasm';
  /** Why this backend (for diagnostics). */
  backendReason: string;
  precision: 'f32' | 'f16';
  /** The GPU adapter, or for 'wasm' the runtime and its thread count. */
  adapter: string;
  contextLength: number;
  vocabSize: number;
  layers: number;
  dModel: number;
  heads: number;
  kvHeads: number;
  /** Weight types present, e.g. { Q4_K: 120, Q6_K: 24, F32: 49 } (tensor counts). */
  weightTypes: Record<string, number>;
  weightBytes: number;
  kvCacheBytes: number;
  hasChatTemplate: boolean;
  /**
   * Quantized weight types this backend holds as f32 rather than in their blocks (onnxruntime-web: types
   * MatMulNBits cannot hold exactly, e.g. Q5_1, Q5_K). Empty on our kernels, which run every type as stored.
   */
  dequantizedTypes: string[];
}

/** The fields of ModelInfo that come from the GGUF file alone, whichever backend runs it. */
export function ggufModelInfo(file: Pick<GgufFile, 'metadata' | 'tensors'>, config: ModelConfig):
  Pick<ModelInfo, 'name' | 'architecture' | 'vocabSize' | 'layers' | 'dModel' | 'heads' | 'kvHeads' | 'weightTypes'> {
  const weightTypes: Record<string, number> = {};
  for (const t of file.tensors) weightTypes[t.type] = (weightTypes[t.type] ?? 0) + 1;
  const name = file.metadata['general.name'];
  return {
    name: typeof name === 'string' ? name : config.architecture,
    architecture: config.architecture,
    vocabSize: config.vocabSize,
    layers: config.nLayers,
    dModel: config.dModel,
    heads: config.nHeads,
    kvHeads: config.nKvHeads,
    weightTypes,
  };
}

export interface LanguageModelParts {
  /** The WebGPU device (native engine); absent on the onnxruntime WASM backend. */
  gpu?: Gpu;
  session: GenerationSession;
  tokenizer: ModelTokenizer;
  renderChat: (messages: ChatCompletionRequest['messages']) => string;
  info: ModelInfo;
  destroy: () => void | Promise<void>;
  /** Sampling defaults of the model (e.g. generation_config.json), used where a request leaves a field out. */
  samplingDefaults?: Partial<SamplingOptions>;
}

let nextId = 1;
const requestId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(nextId++).toString(36)}`;

export class LanguageModel {
  readonly tokenizer: ModelTokenizer;
  readonly info: ModelInfo;
  /** Serialises requests: each waits for the one before it (two at once both complete, in order). */
  private queue: Promise<unknown> = Promise.resolve();
  private unloaded = false;

  readonly completions = {
    create: ((req: CompletionRequest) =>
      req.stream ? Promise.resolve(this.streamCompletion(req)) : this.completion(req)) as {
      (req: CompletionRequest & { stream: true }): Promise<AsyncIterable<CompletionChunk>>;
      (req: CompletionRequest & { stream?: false }): Promise<Completion>;
      (req: CompletionRequest): Promise<Completion | AsyncIterable<CompletionChunk>>;
    },
  };

  readonly chat = {
    completions: {
      create: ((req: ChatCompletionRequest) =>
        req.stream ? Promise.resolve(this.streamChat(req)) : this.chatCompletion(req)) as {
        (req: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
        (req: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
        (req: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
      },
    },
  };

  constructor(private readonly parts: LanguageModelParts) {
    this.tokenizer = parts.tokenizer;
    this.info = parts.info;
  }

  /**
   * Raw logits at every position of `tokens` (ids, used as given), evaluated from an empty context: for
   * perplexity and for comparing with other implementations. Runs after queued requests.
   */
  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    return this.exclusive(() => this.parts.session.logits(tokens));
  }

  /** Frees the GPU memory. The model cannot be used afterwards. */
  async unload(): Promise<void> {
    if (this.unloaded) return;
    this.unloaded = true;
    await this.queue.catch(() => {});
    await this.parts.destroy();
  }

  private async completion(req: CompletionRequest): Promise<Completion> {
    let text = '';
    const gen = this.run(this.promptTokens(req.prompt), req);
    let r = await gen.next();
    while (!r.done) {
      text += r.value;
      r = await gen.next();
    }
    return {
      id: requestId('cmpl'), object: 'text_completion', created: now(), model: this.info.name,
      choices: [{ index: 0, text, finish_reason: r.value.finishReason, logprobs: null }],
      usage: usage(r.value), timings: r.value.timings,
    };
  }

  private async *streamCompletion(req: CompletionRequest): AsyncGenerator<CompletionChunk> {
    const id = requestId('cmpl');
    const base = { id, object: 'text_completion' as const, created: now(), model: this.info.name };
    const gen = this.run(this.promptTokens(req.prompt), req);
    try {
      let r = await gen.next();
      while (!r.done) {
        yield { ...base, choices: [{ index: 0, text: r.value, finish_reason: null, logprobs: null }] };
        r = await gen.next();
      }
      yield { ...base, choices: [{ index: 0, text: '', finish_reason: r.value.finishReason, logprobs: null }], usage: usage(r.value), timings: r.value.timings };
    } finally {
      // A consumer that stops early (break out of for-await) returns this generator: pass that on, so
      // run() releases its queue slot; otherwise every later request (and unload) would wait forever.
      await gen.return(undefined as never);
    }
  }

  private async chatCompletion(req: ChatCompletionRequest): Promise<ChatCompletion> {
    let content = '';
    const gen = this.run(this.chatTokens(req), req);
    let r = await gen.next();
    while (!r.done) {
      content += r.value;
      r = await gen.next();
    }
    return {
      id: requestId('chatcmpl'), object: 'chat.completion', created: now(), model: this.info.name,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: r.value.finishReason, logprobs: null }],
      usage: usage(r.value), timings: r.value.timings,
    };
  }

  private async *streamChat(req: ChatCompletionRequest): AsyncGenerator<ChatCompletionChunk> {
    const base = { id: requestId('chatcmpl'), object: 'chat.completion.chunk' as const, created: now(), model: this.info.name };
    const gen = this.run(this.chatTokens(req), req);
    try {
      yield { ...base, choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null, logprobs: null }] };
      let r = await gen.next();
      while (!r.done) {
        yield { ...base, choices: [{ index: 0, delta: { content: r.value }, finish_reason: null, logprobs: null }] };
        r = await gen.next();
      }
      yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: r.value.finishReason, logprobs: null }], usage: usage(r.value), timings: r.value.timings };
    } finally {
      await gen.return(undefined as never); // as in streamCompletion: release the queue slot on early exit
    }
  }

  private promptTokens(prompt: string | number[]): number[] {
    return typeof prompt === 'string' ? this.tokenizer.encode(prompt) : [...prompt];
  }

  private chatTokens(req: ChatCompletionRequest): number[] {
    if (!Array.isArray(req.messages) || req.messages.length === 0) throw new InvalidArgumentError('chat.completions.create needs a non-empty messages array');
    // The rendered template has its leading BOS text stripped when the tokenizer adds BOS itself
    // (llama.cpp's rule), so the default addBos gives exactly one.
    return this.tokenizer.encode(this.parts.renderChat(req.messages), { parseSpecial: true });
  }

  /**
   * Runs one generation after the requests before it, yielding text. The queue slot is held until the
   * generator finishes or is abandoned (return()), so concurrent requests never interleave on the GPU.
   */
  private async *run(prompt: number[], request: SamplingOptions): AsyncGenerator<string, GenerationResult> {
    // The model's own defaults (an ONNX folder's generation_config.json) under what the request says.
    const opts: SamplingOptions = { ...this.parts.samplingDefaults, ...definedOnly(request) };
    if (this.unloaded) throw new InvalidArgumentError('this model was unloaded');
    const sampling = samplingParams(opts, this.tokenizer.vocabSize);
    const maxTokens = opts.max_tokens ?? 256;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new InvalidArgumentError(`max_tokens must be a non-negative integer, got ${opts.max_tokens}`);
    const stop = opts.stop === undefined ? [] : Array.isArray(opts.stop) ? opts.stop : [opts.stop];
    const release = await this.takeTurn();
    try {
      this.parts.gpu?.assertAlive();
      return yield* this.parts.session.generate({ prompt, sampling, maxTokens, stop, signal: opts.signal }, this.tokenizer);
    } finally {
      release();
    }
  }

  /** Waits for the requests queued before this one; the returned function lets the next one run. */
  private async takeTurn(): Promise<() => void> {
    if (this.unloaded) throw new InvalidArgumentError('this model was unloaded');
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.queue;
    this.queue = before.then(() => mine);
    await before.catch(() => {});
    return release;
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.takeTurn();
    try {
      this.parts.gpu?.assertAlive();
      return await fn();
    } finally {
      release();
    }
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function usage(r: GenerationResult) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

/** Request options → sampler parameters, with llama.cpp's defaults and validation. */
export function samplingParams(o: SamplingOptions, vocabSize: number): SamplingParams {
  const num = (name: string, v: number | undefined, fallback: number, ok: (x: number) => boolean) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !ok(v)) throw new InvalidArgumentError(`${name} ${v} is out of range`);
    return v;
  };
  const logitBias = new Map<number, number>();
  for (const [key, bias] of Object.entries(o.logit_bias ?? {})) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new InvalidArgumentError(`logit_bias: ${key} is not a token id (0..${vocabSize - 1})`);
    if (!Number.isFinite(bias)) throw new InvalidArgumentError(`logit_bias[${key}] must be a finite number`);
    logitBias.set(id, bias);
  }
  return {
    temperature: num('temperature', o.temperature, DEFAULT_SAMPLING.temperature, (x) => x >= 0 && Number.isFinite(x)),
    topK: num('top_k', o.top_k, DEFAULT_SAMPLING.topK, (x) => Number.isInteger(x) && x >= 0),
    topP: num('top_p', o.top_p, DEFAULT_SAMPLING.topP, (x) => x > 0 && x <= 1),
    minP: num('min_p', o.min_p, DEFAULT_SAMPLING.minP, (x) => x >= 0 && x <= 1),
    repetitionPenalty: num('repetition_penalty', o.repetition_penalty, DEFAULT_SAMPLING.repetitionPenalty, (x) => x > 0 && Number.isFinite(x)),
    presencePenalty: num('presence_penalty', o.presence_penalty, DEFAULT_SAMPLING.presencePenalty, Number.isFinite),
    frequencyPenalty: num('frequency_penalty', o.frequency_penalty, DEFAULT_SAMPLING.frequencyPenalty, Number.isFinite),
    penaltyLastN: num('penalty_last_n', o.penalty_last_n, DEFAULT_SAMPLING.penaltyLastN, (x) => Number.isInteger(x) && x >= -1),
    logitBias,
    seed: num('seed', o.seed, Math.floor(Math.random() * 2 ** 32), Number.isInteger) >>> 0,
  };
}

/**
 * A loaded GGUF language model with the OpenAI-shaped API: `completions.create`, `chat.completions.create`
 * (both with `stream: true`), `tokenizer`, `info`, `unload()`. Requests are checked when made (request.ts)
 * and run one at a time, in the order they were made (request_queue.ts).
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
import { checkRequest, type CheckedOptions, type TemplateMessage } from './request';
import { RequestQueue, type Turn } from './request_queue';
import { DEFAULT_SAMPLING, type SamplingParams } from './sampler';

/** The tokenizer surface the model exposes (built from the GGUF metadata). */
export interface ModelTokenizer {
  encode(text: string, options?: { addBos?: boolean; parseSpecial?: boolean }): number[];
  /** Message content made safe for a template whose output is encoded with parseSpecial (control-token text stays text). */
  protectLiteral(text: string): string;
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
  renderChat: (messages: TemplateMessage[]) => string;
  info: ModelInfo;
  destroy: () => void | Promise<void>;
  /** Sampling defaults of the model (e.g. generation_config.json), used where a request leaves a field out. */
  samplingDefaults?: Partial<SamplingOptions>;
  /** How long an unread stream may keep other requests waiting (request_queue.ts); default 10 s. */
  streamIdleTimeoutMs?: number;
}

let nextId = 1;
const requestId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(nextId++).toString(36)}`;

/** A request after checking: what the generation loop needs, decided before the request is queued. */
interface Job {
  prompt: number[];
  sampling: SamplingParams;
  maxTokens: number;
  stop: string[];
  signal?: AbortSignal;
}

export class LanguageModel {
  readonly tokenizer: ModelTokenizer;
  readonly info: ModelInfo;
  /** One request at a time, in order; aborts, unload and abandoned streams settle at once (request_queue.ts). */
  private readonly queue: RequestQueue;

  readonly completions = {
    create: ((req: CompletionRequest) => this.create('completions', req)) as {
      (req: CompletionRequest & { stream: true }): Promise<AsyncIterable<CompletionChunk>>;
      (req: CompletionRequest & { stream?: false }): Promise<Completion>;
      (req: CompletionRequest): Promise<Completion | AsyncIterable<CompletionChunk>>;
    },
  };

  readonly chat = {
    completions: {
      create: ((req: ChatCompletionRequest) => this.create('chat', req)) as {
        (req: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
        (req: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
        (req: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
      },
    },
  };

  constructor(private readonly parts: LanguageModelParts) {
    this.tokenizer = parts.tokenizer;
    this.info = parts.info;
    this.queue = new RequestQueue(parts.streamIdleTimeoutMs);
  }

  /**
   * Raw logits at every position of `tokens` (ids, used as given), evaluated from an empty context: for
   * perplexity and for comparing with other implementations. Runs after queued requests.
   */
  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    this.assertLoaded();
    const turn = await this.queue.take(undefined);
    try {
      this.parts.gpu?.assertAlive();
      return await this.parts.session.logits(tokens);
    } finally {
      turn.end();
    }
  }

  /**
   * Frees the GPU memory. Requests still waiting reject with AbortError at once, the running one at its next
   * step (a stream nobody is reading, immediately); then the memory goes. The model cannot be used afterwards.
   */
  async unload(): Promise<void> {
    if (this.queue.closed) return;
    await this.queue.close('the model was unloaded');
    await this.parts.destroy();
  }

  /** Checks the request (rejecting at once, streaming or not, if it is bad), then runs it in its turn. */
  private create(api: 'completions' | 'chat', req: CompletionRequest | ChatCompletionRequest): Promise<unknown> {
    let job: Job;
    let stream: boolean;
    try {
      this.assertLoaded();
      const checked = checkRequest(api, req, this.tokenizer.vocabSize);
      stream = checked.options.stream;
      job = this.job(checked.api === 'chat' ? this.chatTokens(checked.messages) : this.promptTokens(checked.prompt), checked.options);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!stream) return api === 'chat' ? this.chatCompletion(job) : this.completion(job);
    const box: { turn?: Turn } = {};
    const chunks = api === 'chat' ? this.streamChat(job, box) : this.streamCompletion(job, box);
    this.queue.watch(chunks, box);
    return Promise.resolve(chunks);
  }

  private job(prompt: number[], checked: CheckedOptions): Job {
    // The model's own defaults (an ONNX folder's generation_config.json) under what the request says.
    const opts: SamplingOptions = { ...this.parts.samplingDefaults, ...checked };
    return { prompt, sampling: samplingParams(opts), maxTokens: opts.max_tokens ?? 256, stop: checked.stop, signal: checked.signal };
  }

  private async completion(job: Job): Promise<Completion> {
    let text = '';
    const gen = this.run(job, {});
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

  private async *streamCompletion(job: Job, box: { turn?: Turn }): AsyncGenerator<CompletionChunk> {
    const id = requestId('cmpl');
    const base = { id, object: 'text_completion' as const, created: now(), model: this.info.name };
    const gen = this.run(job, box);
    try {
      let r = await gen.next();
      while (!r.done) {
        yield { ...base, choices: [{ index: 0, text: r.value, finish_reason: null, logprobs: null }] };
        r = await gen.next();
      }
      yield { ...base, choices: [{ index: 0, text: '', finish_reason: r.value.finishReason, logprobs: null }], usage: usage(r.value), timings: r.value.timings };
    } finally {
      // A consumer that stops early (break out of for-await) returns this generator: pass that on, so
      // run() ends its turn; otherwise every later request would wait for the idle rule.
      await gen.return(undefined as never);
    }
  }

  private async chatCompletion(job: Job): Promise<ChatCompletion> {
    let content = '';
    const gen = this.run(job, {});
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

  private async *streamChat(job: Job, box: { turn?: Turn }): AsyncGenerator<ChatCompletionChunk> {
    const base = { id: requestId('chatcmpl'), object: 'chat.completion.chunk' as const, created: now(), model: this.info.name };
    const gen = this.run(job, box);
    try {
      yield { ...base, choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null, logprobs: null }] };
      let r = await gen.next();
      while (!r.done) {
        yield { ...base, choices: [{ index: 0, delta: { content: r.value }, finish_reason: null, logprobs: null }] };
        r = await gen.next();
      }
      yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: r.value.finishReason, logprobs: null }], usage: usage(r.value), timings: r.value.timings };
    } finally {
      await gen.return(undefined as never); // as in streamCompletion
    }
  }

  private promptTokens(prompt: string | number[]): number[] {
    return typeof prompt === 'string' ? this.tokenizer.encode(prompt) : prompt;
  }

  private chatTokens(messages: TemplateMessage[]): number[] {
    // Message text cannot turn into control tokens: only the template's own markers are parsed as special.
    const protectedMessages = messages.map((m) => ({ ...m, content: this.tokenizer.protectLiteral(m.content) }));
    // The rendered template has its leading BOS text stripped when the tokenizer adds BOS itself
    // (llama.cpp's rule), so the default addBos gives exactly one.
    return this.tokenizer.encode(this.parts.renderChat(protectedMessages), { parseSpecial: true });
  }

  /**
   * Runs one generation in its turn, yielding text. The turn is held until the generator finishes or is
   * abandoned (return(), garbage collection, the idle rule), so requests never interleave on the GPU.
   */
  private async *run(job: Job, box: { turn?: Turn }): AsyncGenerator<string, GenerationResult> {
    const turn = await this.queue.take(job.signal);
    box.turn = turn;
    try {
      this.parts.gpu?.assertAlive();
      const gen = this.parts.session.generate({ ...job, signal: turn.signal }, this.tokenizer);
      for (let r = await gen.next(); ; r = await gen.next()) {
        if (r.done) return r.value;
        turn.park();
        yield r.value;
        turn.unpark();
      }
    } finally {
      turn.end();
    }
  }

  private assertLoaded(): void {
    if (this.queue.closed) throw new InvalidArgumentError('this model was unloaded');
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function usage(r: GenerationResult) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

/** Checked request options (request.ts) → sampler parameters, with llama.cpp's defaults. */
export function samplingParams(o: SamplingOptions): SamplingParams {
  const logitBias = new Map<number, number>();
  for (const [key, bias] of Object.entries(o.logit_bias ?? {})) logitBias.set(Number(key), bias);
  return {
    temperature: o.temperature ?? DEFAULT_SAMPLING.temperature,
    topK: o.top_k ?? DEFAULT_SAMPLING.topK,
    topP: o.top_p ?? DEFAULT_SAMPLING.topP,
    minP: o.min_p ?? DEFAULT_SAMPLING.minP,
    repetitionPenalty: o.repetition_penalty ?? DEFAULT_SAMPLING.repetitionPenalty,
    presencePenalty: o.presence_penalty ?? DEFAULT_SAMPLING.presencePenalty,
    frequencyPenalty: o.frequency_penalty ?? DEFAULT_SAMPLING.frequencyPenalty,
    penaltyLastN: o.penalty_last_n ?? DEFAULT_SAMPLING.penaltyLastN,
    logitBias,
    seed: (o.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0,
  };
}

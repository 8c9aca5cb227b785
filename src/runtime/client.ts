/**
 * The page side of a worker-backed model: an object with the same API as the in-thread LanguageModel
 * (completions.create / chat.completions.create with or without `stream`, tokenizer, info, logits,
 * unload), whose calls go to the EngineHost in the worker (src/runtime/worker.ts) through comlink.
 *
 * Each generation request gets its own MessageChannel: the worker sends chunks, then `end`, `result` or
 * `error` on it; the page sends `abort` when the request's AbortSignal fires (signals cannot be cloned)
 * and `cancel` when a stream is abandoned. Streams start on the first `next()`, like the in-thread async
 * generators, so requests take their turns in the order they are first consumed. Errors come back as the
 * same InpageError classes. The tokenizer is the page's own copy, built (on first use) from the file's
 * tokenizer metadata, so `llm.tokenizer.encode(text)` stays synchronous. If the worker crashes (an `error`
 * event on it), every pending call rejects with WorkerCrashedError and the model stays unusable (./lifeline.ts).
 */
import { proxy, transfer, wrap, type Endpoint, type Remote } from 'comlink';
import { abortErrorOf, InvalidArgumentError } from '../errors';
import type { ChatCompletionRequest, CompletionRequest } from '../llm/api_types';
import type { LanguageModel as EngineLanguageModel, ModelTokenizer } from '../llm/language_model';
import type { LoadProgressEvent } from '../llm/load_model';
import type { RuntimeLoadOptions } from './engine_load';
import { hfTokenizerFromMetadata } from '../backends/ort/hf_tokenizer';
import { checkRequest } from '../llm/request';
import { createTokenizer } from '../tokenizer';
import {
  abortReasonOf,
  isSerializedError,
  rehydrate,
  type GenerationApi,
  type GenerationSpec,
  type WorkerToPage,
} from './protocol';
import { crashSourceOf, Lifeline } from './lifeline';
import { pageBase } from './spawn';
import type { LanguageModel, ModelInfo } from './types';
import type { EngineHost, WorkerLoaded, WorkerLoadOptions } from './worker';

/** Options the page side keeps to itself (not cloneable, or not the engine's business). */
const PAGE_ONLY = new Set(['onProgress', 'signal', 'gpu', 'worker', 'workerUrl', 'baseUrl']);

/**
 * Loads a model in the engine served on `endpoint` (a Worker, or a MessagePort in tests). `close` ends
 * the worker: called on unload, when loading fails or is aborted, and when the worker crashes (an `error`
 * event on `endpoint`; see ./lifeline.ts).
 */
export async function connectModel(
  endpoint: Endpoint,
  options: RuntimeLoadOptions & Record<string, unknown>,
  close: () => void,
  runtimeReason: string,
): Promise<LanguageModel> {
  const engine = wrap<EngineHost>(endpoint);
  const lifeline = new Lifeline(crashSourceOf(endpoint), close);
  const { signal, onProgress } = options;
  let onAbort: (() => void) | undefined;
  try {
    if (signal?.aborted) throw abortErrorOf(signal);
    // Aborting a load ends the worker: the GPU memory it had taken goes with it.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortErrorOf(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const progress = onProgress ? proxy((e: LoadProgressEvent) => onProgress(e)) : undefined;
    const loaded = await lifeline.race(Promise.race([engine.load(cloneableOptions(options), progress), aborted]));
    return new RemoteLanguageModel(engine, loaded, close, runtimeReason, lifeline);
  } catch (e) {
    lifeline.stop();
    close();
    throw rehydrate(e);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The first option (a path like `cache.fetch`) that could not reach the worker intact: a function, or an
 * object that is not plain data (a class instance would arrive without its methods). undefined if none.
 */
export function uncloneableOption(options: object): string | undefined {
  const visit = (v: unknown, path: string, depth: number): string | undefined => {
    if (v === null || typeof v !== 'object') return typeof v === 'function' || typeof v === 'symbol' ? path : undefined;
    if (v instanceof Blob || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return undefined;
    const proto = Object.getPrototypeOf(v);
    if (depth > 8 || (proto !== Object.prototype && proto !== Array.prototype && proto !== null)) return path;
    for (const [k, x] of Object.entries(v)) {
      const bad = visit(x, `${path}.${k}`, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  };
  for (const [k, v] of Object.entries(options)) {
    const bad = PAGE_ONLY.has(k) ? undefined : visit(v, k, 0);
    if (bad) return bad;
  }
  return undefined;
}

function cloneableOptions(options: Record<string, unknown>): WorkerLoadOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!PAGE_ONLY.has(k)) out[k] = v;
  // A relative URL means relative to the page, not to the worker script.
  if (typeof out.url === 'string') {
    const base = pageBase();
    if (base) out.url = new URL(out.url, base).href;
  }
  return out as WorkerLoadOptions;
}

type Message = WorkerToPage | { t: 'local-error'; error: unknown };

/** One request's channel, as a queue of messages the page reads one at a time. */
class Call {
  private readonly port: MessagePort;
  private readonly queue: Message[] = [];
  private waiting?: (m: Message) => void;
  private readonly onAbort?: () => void;
  private readonly unwatch: () => void;

  constructor(engine: Remote<EngineHost>, spec: GenerationSpec, private readonly signal: AbortSignal | undefined, lifeline: Lifeline) {
    // A crashed worker sends nothing more: the request ends with the crash instead of waiting forever.
    this.unwatch = lifeline.watch((error) => this.push({ t: 'local-error', error }));
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.addEventListener('message', (ev: MessageEvent<WorkerToPage>) => this.push(ev.data));
    port1.start();
    if (signal && !signal.aborted) {
      this.onAbort = () => port1.postMessage({ t: 'abort', reason: abortReasonOf(signal) });
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    engine.generate(transfer(port2, [port2]), spec).catch((e: unknown) =>
      this.push(isSerializedError(e) ? { t: 'error', error: e } : { t: 'local-error', error: e }),
    );
  }

  next(): Promise<Message> {
    const m = this.queue.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => (this.waiting = resolve));
  }

  /** Ends the page's side; `cancel` first tells the worker to stop generating. */
  close(cancel: boolean): void {
    this.unwatch();
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    if (cancel) this.port.postMessage({ t: 'cancel' });
    this.port.close();
  }

  private push(m: Message): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w(m);
    else this.queue.push(m);
  }
}

function failure(m: Message): unknown {
  if (m.t === 'error') return rehydrate(m.error);
  if (m.t === 'local-error') return m.error;
  return new Error(`inpage worker: unexpected message ${m.t}`);
}

type AnyRequest = CompletionRequest | ChatCompletionRequest;

export class RemoteLanguageModel implements LanguageModel {
  readonly info: ModelInfo;
  readonly tokenizer: ModelTokenizer;
  private unloaded = false;

  readonly completions = {
    create: ((req: CompletionRequest) => this.create('completions', req)) as EngineLanguageModel['completions']['create'],
  };

  readonly chat = {
    completions: {
      create: ((req: ChatCompletionRequest) => this.create('chat', req)) as EngineLanguageModel['chat']['completions']['create'],
    },
  };

  constructor(
    private readonly engine: Remote<EngineHost>,
    loaded: WorkerLoaded,
    private readonly close: () => void,
    runtimeReason: string,
    private readonly lifeline: Lifeline,
  ) {
    this.info = { ...loaded.info, runtime: 'worker', runtimeReason };
    this.tokenizer = lazyTokenizer(loaded.tokenizerMetadata);
  }

  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    this.checkUsable();
    try {
      return await this.lifeline.race(this.engine.logits([...tokens]));
    } catch (e) {
      throw rehydrate(e);
    }
  }

  /**
   * Frees the GPU memory after the requests already made, then ends the worker. After a crash there is
   * nothing left to free (the worker and its GPU memory are gone): it resolves, so cleanup code need not
   * care why the model ended.
   */
  async unload(): Promise<void> {
    if (this.unloaded) return;
    this.unloaded = true;
    if (this.lifeline.failure) return;
    try {
      await this.lifeline.race(this.engine.unload());
    } catch (e) {
      if (e === this.lifeline.failure) return;
      throw rehydrate(e);
    } finally {
      this.lifeline.stop();
      this.close();
    }
  }

  private checkUsable(): void {
    if (this.lifeline.failure) throw this.lifeline.failure;
    if (this.unloaded) throw new InvalidArgumentError('this model was unloaded');
  }

  private create(api: GenerationApi, req: AnyRequest): Promise<unknown> {
    try {
      // Checked here too, so a bad request rejects at create() — streaming or not — without a round trip.
      this.checkUsable();
      checkRequest(api, req, this.info.vocabSize);
    } catch (e) {
      return Promise.reject(e);
    }
    return req.stream ? Promise.resolve(this.stream(api, req)) : this.once(api, req);
  }

  private open(api: GenerationApi, req: AnyRequest): Call {
    this.checkUsable();
    const { signal, ...request } = req;
    const spec: GenerationSpec = { api, request };
    if (signal?.aborted) spec.aborted = abortReasonOf(signal);
    return new Call(this.engine, spec, signal, this.lifeline);
  }

  private async once(api: GenerationApi, req: AnyRequest): Promise<unknown> {
    const call = this.open(api, req);
    try {
      const m = await call.next();
      if (m.t === 'result') return m.value;
      throw failure(m);
    } finally {
      call.close(false);
    }
  }

  private async *stream(api: GenerationApi, req: AnyRequest): AsyncGenerator<unknown> {
    const call = this.open(api, req);
    let finished = false;
    try {
      for (;;) {
        const m = await call.next();
        if (m.t === 'chunk') yield m.chunk;
        else {
          finished = true;
          if (m.t === 'end') return;
          throw failure(m);
        }
      }
    } finally {
      // Left early (break out of for-await, or return()): stop the generation in the worker.
      call.close(!finished);
    }
  }
}

/**
 * The page's tokenizer: built from the metadata on first use (a large vocabulary takes a while, and many
 * pages never tokenize), then used directly. Every member of the engine's tokenizer is there.
 */
function lazyTokenizer(metadata: Record<string, unknown>): ModelTokenizer {
  let tokenizer: ModelTokenizer | undefined;
  // An ONNX model sends its tokenizer.json instead of GGUF metadata (src/backends/ort/hf_tokenizer.ts).
  const get = () => (tokenizer ??= hfTokenizerFromMetadata(metadata) ?? createTokenizer(metadata));
  return new Proxy({} as ModelTokenizer, {
    get(_, key) {
      const t = get() as unknown as Record<PropertyKey, unknown>;
      const v = t[key];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
    has: (_, key) => key in get(),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), key);
      return d && { ...d, configurable: true };
    },
  });
}

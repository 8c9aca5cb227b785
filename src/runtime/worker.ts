/**
 * The worker side of the runtime: holds the engine's LanguageModel and serves it over comlink to the page
 * (src/runtime/client.ts). The worker script itself (inpage.worker.ts) only calls exposeEngine(self);
 * tests expose the same object on one end of a MessageChannel.
 *
 * Calls: load (once), generate (one MessagePort per request: chunks, the result or an error come back on
 * it; abort and cancel go the other way), logits, unload. Errors leave as SerializedError, never as
 * comlink's lossy Error copy.
 */
import { expose, releaseProxy, transfer, type Endpoint, type Remote } from 'comlink';
import type { LanguageModel, ModelInfo } from '../llm/language_model';
import type { LoadProgressEvent } from '../llm/load_model';
import { loadEngine, type RuntimeLoadOptions } from './engine_load';
import { abortReasonFrom, serializeError, type GenerationSpec, type PageToWorker, type WorkerToPage } from './protocol';

/** LoadModelOptions that can be cloned into a worker (no callbacks, signals or GPU objects). */
export type WorkerLoadOptions = Omit<RuntimeLoadOptions, 'onProgress' | 'signal' | 'gpu' | 'worker'>;

export interface WorkerLoaded {
  info: ModelInfo;
  /** The GGUF metadata the tokenizer is built from (`tokenizer.*`, `general.*`), for the page's copy. */
  tokenizerMetadata: Record<string, unknown>;
}

/** What runs the engine where it is exposed; tests pass Node's GPU here. */
export interface EngineHostOptions {
  gpu?: GPU;
}

type ProgressCallback = ((e: LoadProgressEvent) => void) | Remote<(e: LoadProgressEvent) => void>;

/** Rethrows anything as a SerializedError (a plain object, which comlink passes through unchanged). */
async function guarded<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw serializeError(e);
  }
}

export class EngineHost {
  private llm?: LanguageModel;
  private loading = false;

  constructor(private readonly host: EngineHostOptions = {}) {}

  load(options: WorkerLoadOptions, onProgress?: ProgressCallback): Promise<WorkerLoaded> {
    return guarded(async () => {
      if (this.loading || this.llm) throw new Error('this worker already holds a model: use one worker per model');
      this.loading = true;
      try {
        // Progress calls are round trips to the page: never wait for one while loading, but have them
        // all delivered before load returns (in-thread, 'ready' is reported before loadModel returns too).
        const delivered: Promise<unknown>[] = [];
        const report = (e: LoadProgressEvent) => {
          delivered.push(Promise.resolve(onProgress?.(e)).catch(() => {}));
        };
        // The page builds its own tokenizer (so that llm.tokenizer stays synchronous) from the metadata the
        // engine parsed.
        let tokenizerMeta: Record<string, unknown> = {};
        const llm = await loadEngine({ ...options, gpu: this.host.gpu, onProgress: onProgress ? report : undefined }, (m) => {
          tokenizerMeta = tokenizerMetadata(m);
        });
        this.llm = llm;
        await Promise.all(delivered);
        return { info: llm.info, tokenizerMetadata: tokenizerMeta };
      } finally {
        this.loading = false;
        // A comlink proxy of the page's callback: let the page side close its port.
        const release = (onProgress as Partial<Remote<object>> | undefined)?.[releaseProxy];
        if (typeof release === 'function') release();
      }
    });
  }

  /**
   * Runs one completions / chat request, answering on `port`. Returns at once; the request takes its turn
   * in the model's queue like any in-thread request.
   */
  generate(port: MessagePort, spec: GenerationSpec): void {
    const controller = new AbortController();
    let cancelled = false;
    const onMessage = (ev: MessageEvent<PageToWorker>) => {
      if (ev.data?.t === 'abort') controller.abort(abortReasonFrom(ev.data.reason));
      else if (ev.data?.t === 'cancel') {
        cancelled = true;
        controller.abort('cancelled');
      }
    };
    port.addEventListener('message', onMessage);
    port.start();
    if (spec.aborted !== undefined) controller.abort(abortReasonFrom(spec.aborted));
    const send = (m: WorkerToPage) => {
      if (!cancelled) port.postMessage(m);
    };
    void (async () => {
      try {
        const llm = this.model();
        const request = { ...spec.request, signal: controller.signal };
        const create = (spec.api === 'chat' ? llm.chat.completions.create : llm.completions.create) as (r: typeof request) => Promise<unknown>;
        if (request.stream) {
          const stream = (await create(request)) as AsyncIterable<unknown>;
          for await (const chunk of stream) {
            if (cancelled) break;
            send({ t: 'chunk', chunk });
          }
          send({ t: 'end' });
        } else {
          send({ t: 'result', value: await create(request) });
        }
      } catch (e) {
        send({ t: 'error', error: serializeError(e) });
      } finally {
        port.removeEventListener('message', onMessage);
        port.close();
      }
    })();
  }

  logits(tokens: number[]): Promise<Float32Array[]> {
    return guarded(async () => {
      const rows = await this.model().logits(tokens);
      const buffers = [...new Set(rows.map((r) => r.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      return transfer(rows, buffers);
    });
  }

  unload(): Promise<void> {
    return guarded(async () => {
      const llm = this.llm;
      this.llm = undefined;
      await llm?.unload();
    });
  }

  private model(): LanguageModel {
    if (!this.llm) throw new Error('no model is loaded in this worker');
    return this.llm;
  }
}

/** Serves an EngineHost on `endpoint` (the worker's global scope, or a MessagePort in tests). */
export function exposeEngine(endpoint: Endpoint, host?: EngineHostOptions): EngineHost {
  const engine = new EngineHost(host);
  expose(engine, endpoint);
  return engine;
}

/** The metadata a tokenizer reads (createTokenizer: `tokenizer.ggml.*` and `general.name`), with margin. */
function tokenizerMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) if (k.startsWith('tokenizer.') || k.startsWith('general.')) out[k] = v;
  return out;
}

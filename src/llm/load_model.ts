/**
 * loadModel: GGUF (URL, Blob/File, or bytes) → a LanguageModel on the visitor's GPU. Everything that can
 * be wrong with the file is found before any GPU work (openGguf and modelConfigFromGguf validate), and a
 * failure part-way through the upload frees what was uploaded.
 *
 * The engine reads whatever ByteSource it is given and knows nothing of where the bytes are kept: the
 * runtime (src/runtime/engine_load.ts) opens a URL through the IndexedDB weight cache and hands the
 * cached source down to loadModelFrom, so data flows one way, page → runtime → engine. The same file on
 * onnxruntime-web (backend 'wasm' / 'ort-webgpu') is the backend layer's (src/backends/load_backend.ts).
 */
import { InvalidArgumentError, ModelFileError } from '../errors';
import { openGguf, type ByteSource } from '../formats/gguf';
import { acquireGpu, type Gpu, type RequestedDevice } from '../gpu';
import { SUPPORTED_HEAD_DIMS } from '../ops/attention';
import { ChatTemplate, type ChatFallback } from '../tokenizer/chat';
import { createTokenizer } from '../tokenizer';
import { RateMeter } from '../progress';
import { modelConfigFromGguf } from './config';
import { Session } from './generate';
import { KvCache } from './kv_cache';
import { ggufModelInfo, LanguageModel, type ModelInfo } from './language_model';
import { withModelSource } from './model_source';
import { sessionShape, type SessionOptions } from './session_options';
import { LlamaModel } from './llama';
import { destroyModelWeights, loadModelWeights } from './model_weights';
import { TokenSelector } from './token_selector';
import { warmUp } from './warm_up';

export interface LoadProgressEvent {
  /**
   * download / cache-read: the weight cache (src/runtime/cache, reported by the runtime), for URLs; they
   * may interleave with gpu-upload. shader-compile and warm-up follow the upload (./warm_up.ts), with every
   * byte loaded: 'ready' means the first request pays for neither.
   */
  phase: 'metadata' | 'download' | 'cache-read' | 'gpu-upload' | 'shader-compile' | 'warm-up' | 'ready';
  loadedBytes: number;
  totalBytes: number;
  message: string;
  /** Bytes per second over the last few seconds (download, cache-read, gpu-upload). */
  rate?: number;
  /** Seconds left at that rate, when known. */
  etaSeconds?: number;
}

export interface LoadModelOptions extends SessionOptions {
  url?: string;
  file?: Blob;
  bytes?: Uint8Array;
  /**
   * 'webgpu' (our kernels: the only backend this module runs) or 'wasm' / 'ort-webgpu' (the GGUF exported to
   * ONNX and run on onnxruntime-web: src/backends/load_backend.ts loadGgufOnOrt, which the runtime calls
   * instead). The runtime resolves 'auto' (src/backends/choose.ts) before calling here.
   */
  backend?: 'auto' | 'webgpu' | 'ort-webgpu' | 'wasm';
  /**
   * Run the engine in a Web Worker. Decided by src/runtime/load.ts (default: yes in browsers, unless a `gpu`
   * is injected); by the time this module runs, it is already on the thread it will stay on.
   */
  worker?: boolean;
  /** A `GPU` to use instead of navigator.gpu (Node: the `webgpu` package), or an already acquired Gpu. */
  gpu?: GPU | Gpu;
  precision?: 'auto' | 'f32' | 'f16';
  /**
   * For files without `tokenizer.chat_template` (base models): format chat messages as ChatML or as plain
   * "role: content" lines. Without it, chat requests on such a model fail with UnsupportedTokenizer.
   */
  chatFallback?: ChatFallback;
  onProgress?: (e: LoadProgressEvent) => void;
  signal?: AbortSignal;
}

/** Loads from options.url / file / bytes, read directly (no cache: that is the runtime's, see above). */
export function loadModel(options: LoadModelOptions): Promise<LanguageModel> {
  return loadModelFrom(modelSourceOf(options), options);
}

/** What the layer above may attach to a load from a source it opened. */
export interface SourceHooks {
  /**
   * Resolves when the source holds the whole file (the weight cache finishing its download); the model is
   * reported ready only after it, so the next load needs no network. A rejection fails the load.
   */
  whenComplete?: () => Promise<void>;
  /** Receives the file's GGUF metadata once parsed (the worker sends the tokenizer's part to the page). */
  onMetadata?: (metadata: Record<string, unknown>) => void;
  /**
   * The device the runtime already requested while choosing the backend (src/backends/choose.ts), taken
   * over instead of requesting a second one; once taken, the model owns it.
   */
  takeDevice?: () => RequestedDevice | undefined;
}

/**
 * Loads from a ByteSource opened by the caller (the runtime passes `{ reader }` for a cached URL).
 * options.url / file / bytes are ignored here.
 */
export async function loadModelFrom(opened: ByteSource, options: LoadModelOptions, hooks: SourceHooks = {}): Promise<LanguageModel> {
  if (options.backend === 'wasm' || options.backend === 'ort-webgpu') {
    throw new InvalidArgumentError(`backend '${options.backend}' runs on onnxruntime-web, which this engine does not load: use inpage's loadModel (src/runtime/load.ts), which routes it there`);
  }
  return withModelSource(opened, options.signal, (source) => loadGgufModel(source, options, hooks));
}

async function loadGgufModel(source: ByteSource, options: LoadModelOptions, hooks: SourceHooks): Promise<LanguageModel> {
  const onProgress = options.onProgress ?? (() => {});
  const file = await openGguf(source, { signal: options.signal });
  const config = modelConfigFromGguf(file.metadata, file.tensors);
  hooks.onMetadata?.(file.metadata);
  // The attention kernels exist for these head sizes only: refuse others here, before any GPU work,
  // rather than load the model and fail every request.
  if (!SUPPORTED_HEAD_DIMS.includes(config.headDim)) {
    throw new ModelFileError('UnsupportedArchitecture', `attention head size ${config.headDim} is not supported (supported: ${SUPPORTED_HEAD_DIMS.join(', ')})`);
  }
  const tokenizer = createTokenizer(file.metadata);
  const template = typeof file.metadata['tokenizer.chat_template'] === 'string' ? (file.metadata['tokenizer.chat_template'] as string) : undefined;
  onProgress({ phase: 'metadata', loadedBytes: 0, totalBytes: file.fileSize, message: `${config.architecture}, ${config.nLayers} layers` });

  const { contextLength, prefillChunk: chunk, streamIdleTimeoutMs } = sessionShape(options, config.contextLength);
  const ownGpu = !(options.gpu && 'device' in options.gpu);
  const gpu = ownGpu ? await acquireGpu({ gpu: options.gpu as GPU | undefined, precision: options.precision }, hooks.takeDevice?.()) : (options.gpu as Gpu);

  let weights;
  const upload = new RateMeter();
  try {
    weights = await loadModelWeights(gpu, source, file, config, {
      signal: options.signal,
      onProgress: (p) => onProgress({
        phase: 'gpu-upload', loadedBytes: p.loadedBytes, totalBytes: p.totalBytes, message: p.tensor,
        rate: upload.update(p.loadedBytes), etaSeconds: upload.eta(p.totalBytes - p.loadedBytes),
      }),
    });
    // Ready only once the whole file is cached, so the next load needs no network.
    await hooks.whenComplete?.().catch((e: unknown) => {
      destroyModelWeights(gpu, weights!);
      throw e;
    });
  } catch (e) {
    if (ownGpu) gpu.destroy();
    throw e;
  }
  const cache = new KvCache(gpu, config, contextLength);
  const model = new LlamaModel(gpu, config, weights, cache, chunk);
  const selector = new TokenSelector(gpu, config.vocabSize);
  const destroy = () => {
    selector.destroy();
    model.destroy();
    cache.destroy();
    destroyModelWeights(gpu, weights);
    if (ownGpu) gpu.destroy();
  };
  try {
    await warmUp(model, selector, (phase) => {
      const message = phase === 'shader-compile' ? 'compiling shaders' : `running every kernel once (${gpu.pipelines.size} pipelines)`;
      onProgress({ phase, loadedBytes: weights.bytes, totalBytes: weights.bytes, message });
    });
  } catch (e) {
    destroy();
    throw e;
  }
  const session = new Session(model, selector);

  const a = gpu.caps.adapter;
  const info: ModelInfo = {
    ...ggufModelInfo(file, config),
    backend: 'webgpu',
    // The runtime states its own choice (src/backends/load_backend.ts); these are for direct calls.
    backendReason: options.backend === 'webgpu' ? 'requested' : options.gpu ? 'a GPU was passed in' : 'WebGPU (loaded without the runtime\'s backend choice)',
    precision: gpu.precision,
    adapter: [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') + (a.isFallbackAdapter ? ' (software)' : ''),
    contextLength,
    weightBytes: weights.bytes,
    kvCacheBytes: cache.bytes,
    hasChatTemplate: template !== undefined,
    dequantizedTypes: [],
  };
  // Created on first use, so a file without a template still loads for plain completion.
  let chatTemplate: ChatTemplate | undefined;
  const renderChat = (messages: { role: string; content: string }[]) => {
    chatTemplate ??= ChatTemplate.fromMetadata(file.metadata, tokenizer, { fallback: options.chatFallback });
    return chatTemplate.render(messages, { addGenerationPrompt: true });
  };
  onProgress({ phase: 'ready', loadedBytes: weights.bytes, totalBytes: weights.bytes, message: 'ready' });
  return new LanguageModel({
    gpu, session, tokenizer, renderChat, info, streamIdleTimeoutMs,
    destroy,
  });
}

/** The one source among options.url / file / bytes. */
export function modelSourceOf(o: Pick<LoadModelOptions, 'url' | 'file' | 'bytes'>): ByteSource {
  const given = [o.url !== undefined, o.file !== undefined, o.bytes !== undefined].filter(Boolean).length;
  if (given !== 1) throw new InvalidArgumentError('loadModel needs exactly one of { url, file, bytes }');
  if (o.url !== undefined) return { url: o.url };
  if (o.file !== undefined) return { blob: o.file };
  return { bytes: o.bytes! };
}

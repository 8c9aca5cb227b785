/**
 * How the runtime starts the engine, on whichever thread it runs (the page's, or the worker's): it opens the
 * model's bytes — a URL through the IndexedDB weight cache when the `cache` setting asks for it — and hands
 * that ByteSource down to the engine (src/llm/load_model.ts, or for a GGUF file on onnxruntime-web the backend
 * layer's loadGgufOnOrt), which never reaches back up here.
 */
import { loadModelFrom, modelSourceOf, type LoadModelOptions as EngineOptions } from '../llm/load_model';
import type { LanguageModel } from '../llm/language_model';
import { loadGgufOnOrt, loadOnBackend, modelFormatOf, type BackendOptions } from '../backends/load_backend';
import type { ByteSource } from '../formats/byte_source';
import { abortErrorOf, ModelFileError } from '../errors';
import { openModelSource, type CacheSetting } from './cache';

/** The engine's options plus the runtime's own: where the weights are kept. */
export interface RuntimeLoadOptions extends EngineOptions, BackendOptions {
  /**
   * Keep a URL's file in the IndexedDB weight cache (verified chunks; interrupted downloads resume) so the
   * next load reads it from the browser with no download. 'auto' (default): cache http(s) URLs where
   * IndexedDB exists, run uncached elsewhere (Node). true or an options object (chunk size, revalidate,
   * retries, …): require the cache. false: never. Files and bytes are never cached.
   */
  cache?: CacheSetting;
}

const NOT_A_MODEL = new Set(['InvalidModelFile', 'TruncatedFile', 'FileChanged']);

export async function loadEngine(
  options: RuntimeLoadOptions,
  onMetadata?: (metadata: Record<string, unknown>) => void,
): Promise<LanguageModel> {
  const onProgress = options.onProgress ?? (() => {});
  const open = async (source: ByteSource) => {
    const opened = await openModelSource(source, options.cache, {
      signal: options.signal,
      onProgress: (e) => onProgress({ phase: e.phase, loadedBytes: e.loadedBytes, totalBytes: e.totalBytes, rate: e.rate, etaSeconds: e.etaSeconds, message: e.url }),
    });
    const { cached } = opened;
    return {
      source: opened.source,
      whenComplete: cached && (() => cached.whenComplete()),
      close: () => cached?.close(),
      // A file that is no model at all (not GGUF, cut short, replaced mid-read) is not worth keeping: its
      // entry goes, instead of staying as a partial download to resume. A valid file this engine refuses
      // (an architecture another backend may run) and network failures or aborts keep theirs.
      failed: async (e: unknown) => {
        if (cached && e instanceof ModelFileError && NOT_A_MODEL.has(e.code)) await cached.discard();
      },
    };
  };
  // A GGUF file is opened at once, while the backend is chosen (which waits for an adapter and a trial
  // device): a cached reload reads and parses the header meanwhile. Whichever backend is chosen reads it.
  let early = modelFormatOf(options) === 'gguf' ? open(modelSourceOf(options)) : undefined;
  early?.catch(() => {}); // a failure is reported where it is awaited, below
  // The backend (our kernels or onnxruntime-web) and the format (GGUF or an ONNX folder) are chosen there;
  // `native` is our engine on a GGUF file.
  try {
    return await loadOnBackend(options, {
      open,
      onMetadata,
      native: async (engineOptions, takeDevice) => {
        const opening = early ?? open(modelSourceOf(options));
        early = undefined; // a second engine (the fallback to WASM) opens the file again
        const opened = await opening;
        try {
          const hooks = { whenComplete: opened.whenComplete, onMetadata, takeDevice };
          return engineOptions.backend === 'wasm' || engineOptions.backend === 'ort-webgpu'
            ? await loadGgufOnOrt(opened.source, { ...engineOptions, ortWasmPaths: options.ortWasmPaths, ortThreads: options.ortThreads }, hooks)
            : await loadModelFrom(opened.source, engineOptions, hooks);
        } catch (e) {
          await opened.failed(e).catch(() => {});
          throw e;
        } finally {
          opened.close(); // stops the download on failure; frees the chunks held in memory
        }
      },
    });
  } catch (e) {
    // However far the load got and whichever layer noticed: an abort is a typed AbortError.
    throw options.signal?.aborted ? abortErrorOf(options.signal) : e;
  } finally {
    // The backend choice failed before any engine opened the file: stop its download.
    early?.then((o) => o.close(), () => {});
  }
}

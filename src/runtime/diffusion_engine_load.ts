/**
 * How the runtime starts a diffusion model on whichever thread it runs (the page's, or the worker's), as
 * ./engine_load.ts does for language models: it opens the export's files — a URL's weight files through the
 * IndexedDB weight cache when the `cache` setting asks for it, or a local folder selection — and hands them
 * to the backend choice (src/backends/diffusion_backend.ts), which hands them on to the diffusion loader
 * (src/diffusion/load.ts). Neither reaches back up here.
 */
import { loadDiffusionOnBackend, type DiffusionBackendOptions } from '../backends/diffusion_backend';
import type { DiffusionEngineOptions, DiffusionInfo } from '../diffusion/load';
import { localFiles, requireSource, urlFiles, type LocalFiles, type ModelFiles, type OpenWeights } from '../diffusion/model_files';
import type { DiffusionPipeline } from '../diffusion/pipeline';
import { openModelSource, type CacheSetting } from './cache';

export interface DiffusionLoadOptions extends DiffusionBackendOptions, DiffusionEngineOptions {
  /** Base URL of the export's folder (holding model_index.json). */
  url?: string;
  /** Or the files of a local folder selection (`input.files` of `<input type=file webkitdirectory>`), or path → bytes. */
  files?: LocalFiles;
  /** The IndexedDB weight cache for URL loads (as loadModel's `cache`): 'auto' by default. */
  cache?: CacheSetting;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

/** Loads the export named by `o.url` / `o.files` in this thread. */
export async function loadDiffusionInThread(o: DiffusionLoadOptions): Promise<{ pipeline: DiffusionPipeline; info: DiffusionInfo }> {
  requireSource(o);
  const files: ModelFiles = o.url !== undefined ? urlFiles(o.url, { open: cachedOpener(o), fetch: o.fetch, headers: o.headers, signal: o.signal }) : localFiles(o.files!);
  return loadDiffusionOnBackend(o, files);
}

/** Opens a weight file's URL through the weight cache (or leaves it to a plain fetch, per `o.cache`). */
function cachedOpener(o: DiffusionLoadOptions): OpenWeights {
  return async (url, onProgress) => {
    const opened = await openModelSource({ url, headers: o.headers }, o.cache, {
      signal: o.signal,
      onProgress: onProgress && ((e) => onProgress({ phase: e.phase, loadedBytes: e.loadedBytes, totalBytes: e.totalBytes, rate: e.rate, etaSeconds: e.etaSeconds })),
    });
    const { cached } = opened;
    return { source: opened.source, whenComplete: cached && (() => cached.whenComplete()), close: () => cached?.close() };
  };
}

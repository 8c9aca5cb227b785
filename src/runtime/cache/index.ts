/**
 * The IndexedDB weight cache: model files fetched from URLs are kept in the browser, in verified chunks,
 * so a page reload loads them with no download. `cache` is the public API (list / delete / clear);
 * `openModelSource` is how loadModel reads a URL through the cache.
 */
import type { ByteSource } from '../../formats/byte_source';
import { InpageError } from '../../errors';
import { CachedUrlSource } from './cached_source';
import { absoluteUrl, type CacheProgressEvent, type OpenCachedOptions, type WeightCacheOptions } from './options';
import { allManifestRecords, clearStore, deleteEntry, isUsable, storedBytes } from './store';

export { CachedUrlSource } from './cached_source';
export { DEFAULT_CHUNK_BYTES, type CacheProgressEvent, type CacheSourceStats, type OpenCachedOptions, type WeightCacheOptions } from './options';
export { CorruptCacheError, QuotaExceededError } from './errors';
export { Limiter, downloadLimiter } from './limiter';
export { RateMeter } from '../../progress';

/** One cached model file. */
export interface CacheEntry {
  url: string;
  /** The file's size. */
  size: number;
  /** Bytes stored (equal to size once complete; less for an interrupted download, which resumes on next load). */
  storedBytes: number;
  complete: boolean;
  chunks: number;
  etag: string | null;
  lastModified: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** IndexedDB and WebCrypto are both here (browsers in a secure context, workers; Node only with a polyfill). */
export function cacheSupported(): boolean {
  return typeof indexedDB !== 'undefined' && typeof IDBKeyRange !== 'undefined' && !!globalThis.crypto?.subtle;
}

function requireSupport(): void {
  if (!cacheSupported()) {
    throw new InpageError('InvalidArgument', 'the weight cache needs IndexedDB and crypto.subtle (a browser page in a secure context, or a worker)');
  }
}

/** The cached model files, with their sizes. */
async function list(): Promise<CacheEntry[]> {
  if (!cacheSupported()) return [];
  const out: CacheEntry[] = [];
  for (const m of await allManifestRecords()) {
    const url = (m as { url?: unknown })?.url;
    if (typeof url !== 'string' || !isUsable(m, url)) continue;
    out.push({
      url, size: m.size, storedBytes: storedBytes(m), complete: m.digests.every((d) => d !== null), chunks: m.chunkCount,
      etag: m.etag, lastModified: m.lastModified, createdAt: new Date(m.createdAt), updatedAt: new Date(m.updatedAt),
    });
  }
  return out.sort((a, b) => a.url.localeCompare(b.url));
}

/** Deletes one cached file (a URL as passed to loadModel; relative URLs resolve against the page). Returns whether it was cached. */
async function remove(url: string): Promise<boolean> {
  requireSupport();
  const abs = absoluteUrl(url);
  const had = (await list()).some((e) => e.url === abs);
  await deleteEntry(abs);
  return had;
}

/** Deletes every cached file. */
async function clear(): Promise<void> {
  requireSupport();
  await clearStore();
}

/**
 * Downloads a file into the cache ahead of use (resuming a partial entry; nothing to do for a complete one)
 * and returns its entry. Downloads run at most 2 at a time across the page (see WeightCacheOptions.limiter).
 */
async function prefetch(url: string, options: OpenCachedOptions = {}): Promise<CacheEntry> {
  requireSupport();
  const source = await CachedUrlSource.open(url, options);
  try {
    await source.whenComplete();
  } finally {
    source.close();
  }
  const entry = (await list()).find((e) => e.url === source.name);
  if (!entry) throw new InpageError('CorruptCache', `${source.name}: the cache entry disappeared right after it was written`);
  return entry;
}

/** The public cache API, exported from the package as `cache`. */
export const cache = { list, delete: remove, clear, prefetch };

/** loadModel's `cache` option. */
export type CacheSetting = boolean | 'auto' | WeightCacheOptions;

/**
 * The source loadModel reads: a URL through the cache (when `setting` asks for it and the cache is
 * available), else the source unchanged. `cache: 'auto'` (the default) caches http(s) URLs where IndexedDB
 * exists and runs uncached elsewhere (Node, or a browser that refuses IndexedDB, e.g. some private modes);
 * `true` or an options object require the cache.
 */
export async function openModelSource(
  source: ByteSource,
  setting: CacheSetting | undefined,
  opts: { signal?: AbortSignal; onProgress?: (e: CacheProgressEvent) => void } = {},
): Promise<{ source: ByteSource; cached?: CachedUrlSource }> {
  if (!('url' in source) || setting === false) return { source };
  const explicit = setting === true || typeof setting === 'object';
  if (!explicit && !/^https?:/i.test(absoluteUrl(source.url))) return { source };
  if (!cacheSupported()) {
    if (explicit) requireSupport();
    return { source };
  }
  const options = typeof setting === 'object' ? setting : {};
  try {
    const cached = await CachedUrlSource.open(source.url, { ...options, headers: { ...options.headers, ...source.headers }, ...opts });
    cached.startReading(0); // every loader reads the file from its start (the GGUF header first)
    return { source: { reader: cached }, cached };
  } catch (e) {
    // 'auto' runs uncached where IndexedDB cannot be opened; every other failure is reported.
    if (!explicit && !(e instanceof InpageError) && isStorageFailure(e)) return { source };
    throw e;
  }
}

function isStorageFailure(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'InvalidStateError' || name === 'UnknownError' || name === 'SecurityError' || name === 'NotFoundError' || name === 'VersionError';
}

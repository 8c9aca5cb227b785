/** The weight cache's settings, progress events and statistics, and how it names a file (its absolute URL). */
import type { Limiter } from './limiter';
import type { StorageLike } from './quota';

export const DEFAULT_CHUNK_BYTES = 8 << 20;

/** Settings of the weight cache (`loadModel({ cache: { … } })`). */
export interface WeightCacheOptions {
  /** Bytes per chunk record for new entries (default 8 MiB); an existing entry keeps its own. */
  chunkBytes?: number;
  /**
   * Before using a complete entry, ask the server (one HEAD request) whether the file changed (size, ETag,
   * Last-Modified) and download it again if so. Default false: a complete cached file loads with no request
   * at all (offline too). A partial entry is always checked, by the Range request that resumes it.
   */
  revalidate?: boolean;
  /** Retries of a transient failure in a row before giving up with NetworkError (default 5). */
  retries?: number;
  /** First retry delay; doubles each time (default 500 ms). */
  retryDelayMs?: number;
  /** The StorageManager used for the room check and persist() (default navigator.storage; null skips both). */
  storage?: StorageLike | null;
  /** Bounds downloads running at once (default: the page-wide limiter, 2 at a time). */
  limiter?: Limiter;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

export interface CacheProgressEvent {
  phase: 'download' | 'cache-read';
  url: string;
  /** download: bytes of the file held (cached before plus received); cache-read: bytes read back and verified. */
  loadedBytes: number;
  totalBytes: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at that rate (undefined while unknown). */
  etaSeconds?: number;
}

export interface OpenCachedOptions extends WeightCacheOptions {
  signal?: AbortSignal;
  onProgress?: (e: CacheProgressEvent) => void;
}

/** What one open did, for tests and benchmarks. */
export interface CacheSourceStats {
  /** Bytes received from the network. */
  networkBytes: number;
  requests: number;
  /** Chunks read back from IndexedDB and verified. */
  chunksRead: number;
  /** Bad chunks dropped and fetched again. */
  repairs: number;
  /** The entry was found complete when opened. */
  hit: boolean;
}

export function absoluteUrl(url: string): string {
  try {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    return new URL(url, base).href;
  } catch {
    return url;
  }
}

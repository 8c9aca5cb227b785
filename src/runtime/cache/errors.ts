/** The weight cache's typed errors (codes from src/errors.ts). */
import { InpageError } from '../../errors';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/**
 * Caching a model needs more browser storage than is available (checked with navigator.storage.estimate()
 * before downloading, or reported by IndexedDB while writing). Free space with `cache.delete(url)` /
 * `cache.clear()`, or load with `{ cache: false }` to run without caching.
 */
export class QuotaExceededError extends InpageError {
  constructor(readonly url: string, readonly neededBytes: number, readonly availableBytes: number, options?: { cause?: unknown }) {
    super(
      'QuotaExceeded',
      `${url}: caching this model needs ${formatBytes(neededBytes)} (${neededBytes} bytes) of browser storage, but only ` +
        `${formatBytes(availableBytes)} (${availableBytes} bytes) is available; free space with inpage.cache.delete(url) or ` +
        'inpage.cache.clear(), or load with { cache: false } to run without caching',
      options,
    );
  }
}

/** A cached copy is inconsistent and could not be repaired from the network; the entry has been dropped. */
export class CorruptCacheError extends InpageError {
  constructor(readonly url: string, message: string, options?: { cause?: unknown }) {
    super('CorruptCache', `${url}: ${message}`, options);
  }
}

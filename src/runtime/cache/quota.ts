/** Room and persistence for the cache, through navigator.storage (StorageManager). */
import { QuotaExceededError } from './errors';

/** The part of StorageManager the cache uses (tests pass a stub). */
export interface StorageLike {
  estimate?(): Promise<StorageEstimate>;
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

export function defaultStorage(): StorageLike | undefined {
  return (globalThis as { navigator?: { storage?: StorageLike } }).navigator?.storage;
}

/** Free bytes for this origin, or undefined when the browser does not say. */
export async function availableBytes(storage: StorageLike | null | undefined): Promise<number | undefined> {
  if (!storage?.estimate) return undefined;
  try {
    const { quota, usage } = await storage.estimate();
    if (typeof quota !== 'number' || !Number.isFinite(quota)) return undefined;
    return Math.max(0, quota - (usage ?? 0));
  } catch {
    return undefined;
  }
}

/** Throws QuotaExceededError (with both numbers) when `neededBytes` do not fit. */
export async function ensureRoom(url: string, neededBytes: number, storage: StorageLike | null | undefined): Promise<void> {
  const available = await availableBytes(storage);
  if (available !== undefined && neededBytes > available) throw new QuotaExceededError(url, neededBytes, available);
}

/** Asks the browser not to evict the cache under storage pressure (best effort; the answer is returned). */
export async function requestPersistence(storage: StorageLike | null | undefined): Promise<boolean> {
  try {
    if (await storage?.persisted?.()) return true;
    return (await storage?.persist?.()) ?? false;
  } catch {
    return false;
  }
}

/** An IndexedDB write refused for lack of room (DOMException QuotaExceededError, in any browser's spelling). */
export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

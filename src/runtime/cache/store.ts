/**
 * The IndexedDB layout of the weight cache (through idb-keyval, one object store):
 *
 *   ['m', url]                               → Manifest (url, size, ETag / Last-Modified, chunk layout, digests)
 *   ['c', url, size, validator, index]       → Blob, one chunk of the file (chunkBytes, the last shorter)
 *
 * A chunk record and its digest in the manifest are written in one transaction, so a digest in the manifest
 * always means the record was written in full; resume starts at the first chunk without one. The key of a
 * chunk names the file's size and validator (ETag, else Last-Modified), so bytes of one version of a file
 * are never read as another's. Chunks are stored as Blobs: in Chromium both writing and reading them back
 * are faster than for typed arrays (the bytes go to a blob file instead of through structured clone).
 */
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';

export const DB_NAME = 'inpage-cache';
export const STORE_NAME = 'weights';

export interface Manifest {
  format: 1;
  url: string;
  size: number;
  etag: string | null;
  lastModified: string | null;
  chunkBytes: number;
  chunkCount: number;
  /** SHA-256 (hex) of each chunk; null while the chunk is not stored. */
  digests: (string | null)[];
  complete: boolean;
  createdAt: number;
  updatedAt: number;
}

let store: UseStore | undefined;

/** The cache's object store (opened on first use, so importing this module touches nothing). */
export function weightStore(): UseStore {
  store ??= createStore(DB_NAME, STORE_NAME);
  return store;
}

export const manifestKey = (url: string): IDBValidKey => ['m', url];
export const validatorOf = (m: Pick<Manifest, 'etag' | 'lastModified'>): string => m.etag ?? m.lastModified ?? '';
export const chunkKey = (m: Manifest, index: number): IDBValidKey => ['c', m.url, m.size, validatorOf(m), index];
const allManifests = (): IDBKeyRange => IDBKeyRange.bound(['m'], ['m', []]);
const chunksOf = (url: string): IDBKeyRange => IDBKeyRange.bound(['c', url], ['c', url, []]);

export function newManifest(url: string, size: number, etag: string | null, lastModified: string | null, chunkBytes: number): Manifest {
  const chunkCount = Math.ceil(size / chunkBytes);
  const now = Date.now();
  return {
    format: 1, url, size, etag, lastModified, chunkBytes, chunkCount,
    digests: new Array<string | null>(chunkCount).fill(null), complete: chunkCount === 0, createdAt: now, updatedAt: now,
  };
}

/** A manifest this version of inpage can use (anything else is dropped and downloaded afresh). */
export function isUsable(m: unknown, url: string): m is Manifest {
  const x = m as Manifest;
  return !!x && x.format === 1 && x.url === url && Number.isSafeInteger(x.size) && x.size >= 0 &&
    Number.isSafeInteger(x.chunkBytes) && x.chunkBytes > 0 && x.chunkCount === Math.ceil(x.size / x.chunkBytes) &&
    Array.isArray(x.digests) && x.digests.length === x.chunkCount;
}

export function sameEntry(a: Manifest, b: Manifest): boolean {
  return a.url === b.url && a.size === b.size && validatorOf(a) === validatorOf(b) && a.chunkBytes === b.chunkBytes;
}

export function chunkLength(m: Manifest, index: number): number {
  return Math.min(m.chunkBytes, m.size - index * m.chunkBytes);
}

export function storedBytes(m: Manifest): number {
  let n = 0;
  m.digests.forEach((d, i) => {
    if (d) n += chunkLength(m, i);
  });
  return n;
}

export function getManifest(url: string): Promise<unknown> {
  return weightStore()('readonly', (s) => promisifyRequest(s.get(manifestKey(url))));
}

/** Replaces the entry of `m.url` by `m` (no chunks yet): chunks of any earlier version are deleted. */
export function putNewManifest(m: Manifest): Promise<void> {
  return weightStore()('readwrite', (s) => {
    s.delete(chunksOf(m.url));
    s.put(m, manifestKey(m.url));
    return promisifyRequest(s.transaction);
  });
}

/**
 * Stores chunk `index` and its digest in one transaction. Returns false, writing nothing, when the stored
 * manifest is no longer this entry (deleted or replaced meanwhile, e.g. by cache.clear() or another tab).
 */
export function putChunk(m: Manifest, index: number, bytes: Uint8Array, digest: string): Promise<boolean> {
  return weightStore()('readwrite', (s) => {
    let ok = false;
    const r = s.get(manifestKey(m.url));
    r.onsuccess = () => {
      const cur = r.result as Manifest | undefined;
      if (!cur || !isUsable(cur, m.url) || !sameEntry(cur, m)) return;
      cur.digests[index] = digest;
      cur.complete = cur.digests.every((d) => d !== null);
      cur.updatedAt = Date.now();
      s.put(new Blob([bytes as Uint8Array<ArrayBuffer>]), chunkKey(m, index));
      s.put(cur, manifestKey(m.url));
      ok = true;
    };
    return promisifyRequest(s.transaction).then(() => ok);
  });
}

/** A stored chunk's bytes; undefined when the record is missing or not a chunk at all. */
export async function getChunk(m: Manifest, index: number): Promise<Uint8Array | undefined> {
  const v: unknown = await weightStore()('readonly', (s) => promisifyRequest(s.get(chunkKey(m, index))));
  if (v instanceof Blob) return new Uint8Array(await v.arrayBuffer());
  if (v instanceof Uint8Array) return v;
  return undefined;
}

/** Deletes chunk `index` and clears its digest (a bad chunk: it will be fetched again). */
export function dropChunk(m: Manifest, index: number): Promise<void> {
  return weightStore()('readwrite', (s) => {
    s.delete(chunkKey(m, index));
    const r = s.get(manifestKey(m.url));
    r.onsuccess = () => {
      const cur = r.result as Manifest | undefined;
      if (!cur || !isUsable(cur, m.url) || !sameEntry(cur, m)) return;
      cur.digests[index] = null;
      cur.complete = false;
      cur.updatedAt = Date.now();
      s.put(cur, manifestKey(m.url));
    };
    return promisifyRequest(s.transaction);
  });
}

/** Deletes a URL's manifest and every chunk stored for it (any version). */
export function deleteEntry(url: string): Promise<void> {
  return weightStore()('readwrite', (s) => {
    s.delete(manifestKey(url));
    s.delete(chunksOf(url));
    return promisifyRequest(s.transaction);
  });
}

export function allManifestRecords(): Promise<unknown[]> {
  return weightStore()('readonly', (s) => promisifyRequest(s.getAll(allManifests())));
}

export function clearStore(): Promise<void> {
  return weightStore()('readwrite', (s) => {
    s.clear();
    return promisifyRequest(s.transaction);
  });
}

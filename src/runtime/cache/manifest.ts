/**
 * Questions about a cache entry's manifest (its layout and state live in ./store.ts): which chunks are
 * still missing, and whether the server's file is still the one cached.
 */
import type { Manifest } from './store';

/** The first run of consecutive missing chunks, as chunk indices and bytes; undefined when none is missing. */
export function missingRun(m: Manifest): { first: number; last: number; start: number; end: number } | undefined {
  const first = m.digests.findIndex((d) => d === null);
  if (first < 0) return undefined;
  let last = first;
  while (last + 1 < m.chunkCount && m.digests[last + 1] === null) last++;
  return { first, last, start: first * m.chunkBytes, end: Math.min(m.size, (last + 1) * m.chunkBytes) };
}

/** The server's file is the cached one: same size (when known), same ETag (when both have one), else same Last-Modified. */
export function sameVersion(m: Manifest, now: { size?: number; total?: number; etag: string | null; lastModified: string | null }): boolean {
  const size = now.total ?? now.size;
  if (size !== undefined && Number.isFinite(size) && size !== m.size) return false;
  if (m.etag !== null && now.etag !== null) return m.etag === now.etag;
  if (m.lastModified !== null && now.lastModified !== null) return m.lastModified === now.lastModified;
  return true;
}

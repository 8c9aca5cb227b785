/**
 * Random access to a model file's bytes without holding the file in memory: a URL (read through
 * ./http_reader.ts: Range requests, or front to back where the server has no Range support), a Blob read
 * with `slice`, bytes already in memory, or a RangeReader from another layer (the weight cache). Used for
 * the GGUF header (range reads) and for streaming tensor data in chunks.
 */
import { ModelFileError } from '../errors';
import { HttpReader } from './http_reader';

/** Where a model file comes from. */
export type ByteSource =
  | { url: string; headers?: Record<string, string> }
  | { blob: Blob }
  | { bytes: Uint8Array }
  | { reader: RangeReader };

/**
 * Random access supplied by another layer (the IndexedDB weight cache, src/runtime/cache): a file of
 * `size` bytes whose bytes [start, end) `read` returns (end <= size). The returned bytes must not be
 * changed afterwards by the reader (consumers may keep them, e.g. for a pending GPU write).
 */
export interface RangeReader {
  /** For messages: the file's URL or name. */
  readonly name: string;
  readonly size: number;
  read(start: number, end: number, opts?: ByteSourceOptions): Promise<Uint8Array>;
  /**
   * The reader's storage unit, when it has one (the cache's chunk size): a read that stays within one block
   * is served without a copy, so streamRange cuts its pieces at block boundaries.
   */
  readonly blockBytes?: number;
}

export interface ByteSourceOptions {
  /** Replaces the global fetch for URL sources (tests, proxies, authentication). */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export function describeSource(source: ByteSource): string {
  if ('url' in source) return source.url;
  if ('blob' in source) return `a Blob of ${source.blob.size} bytes`;
  if ('reader' in source) return source.reader.name;
  return `${source.bytes.length} bytes in memory`;
}

/**
 * Reads bytes [start, end) of a source (fewer when the file ends first) and reports the file's size.
 * For URLs this is one Range request.
 */
export async function readRange(
  source: ByteSource,
  start: number,
  end: number,
  opts: ByteSourceOptions = {},
): Promise<{ bytes: Uint8Array; fileSize: number }> {
  if ('reader' in source) {
    const size = source.reader.size;
    const from = Math.min(start, size);
    return { bytes: await source.reader.read(from, Math.max(from, Math.min(end, size)), opts), fileSize: size };
  }
  if ('bytes' in source) {
    const size = source.bytes.length;
    return { bytes: source.bytes.subarray(Math.min(start, size), Math.min(end, size)), fileSize: size };
  }
  if ('blob' in source) {
    const size = source.blob.size;
    const buf = await source.blob.slice(Math.min(start, size), Math.min(end, size)).arrayBuffer();
    return { bytes: new Uint8Array(buf), fileSize: size };
  }
  // A URL read once: a loader opens it as an HttpReader first (src/llm/model_source.ts), so that every read of the
  // load is checked against the same version of the file and shares one connection.
  const reader = await HttpReader.open(source, opts);
  try {
    return await readRange({ reader }, start, end, opts);
  } finally {
    reader.close();
  }
}

/**
 * Streams bytes [start, start + length) in pieces of exactly `chunkBytes` (the last may be shorter).
 * URL: one Range request whose body is re-chunked as it arrives; Blob: one slice per chunk; bytes:
 * subarrays (no copy); a reader: its reads, cut also where its blocks end (RangeReader.blockBytes), so
 * that a piece never straddles two cache chunks and is served without a copy (a cached reload of a 69 MiB
 * model spent 13–20 ms of main-thread time joining straddling pieces). The whole range is never materialised.
 */
export async function* streamRange(
  source: ByteSource,
  start: number,
  length: number,
  chunkBytes: number,
  opts: ByteSourceOptions = {},
): AsyncGenerator<Uint8Array> {
  const end = start + length;
  if ('reader' in source) {
    const { reader } = source;
    if (end > reader.size) {
      throw new ModelFileError('TruncatedFile', `${reader.name}: a tensor needs bytes ${start}-${end - 1}, but the file has only ${reader.size} bytes`);
    }
    const block = reader.blockBytes ?? Infinity;
    for (let at = start; at < end; ) {
      const stop = Math.min(end, at + chunkBytes, (Math.floor(at / block) + 1) * block);
      yield await reader.read(at, stop, opts);
      opts.signal?.throwIfAborted();
      at = stop;
    }
    return;
  }
  if ('bytes' in source || 'blob' in source) {
    const size = 'bytes' in source ? source.bytes.length : source.blob.size;
    if (end > size) {
      throw new ModelFileError('TruncatedFile', `a tensor needs bytes ${start}-${end - 1}, but the file has only ${size} bytes`);
    }
    for (let at = start; at < end; at += chunkBytes) {
      const stop = Math.min(end, at + chunkBytes);
      if ('bytes' in source) yield source.bytes.subarray(at, stop);
      else yield new Uint8Array(await source.blob.slice(at, stop).arrayBuffer());
      opts.signal?.throwIfAborted();
    }
    return;
  }
  const reader = await HttpReader.open(source, opts); // see readRange
  try {
    yield* streamRange({ reader }, start, length, chunkBytes, opts);
  } finally {
    reader.close();
  }
}

/**
 * A whole response body, read piece by piece so a caller can report progress (`arrayBuffer()` gives none),
 * then joined once. `onBytes` gets the bytes received so far and the expected total (Content-Length, or
 * what has arrived when the server sent none or too small a length).
 */
export async function readBodyWithProgress(response: Response, onBytes: (loaded: number, total: number) => void): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const total = Number(response.headers.get('content-length') ?? 0);
  const parts: Uint8Array[] = [];
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onBytes(loaded, Math.max(total, loaded));
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Random access to a model file's bytes without holding the file in memory: a URL read with HTTP Range
 * requests (the server must answer 206 with the range asked for), a Blob read with `slice`, or bytes
 * already in memory. Used for the GGUF header (range reads) and for streaming tensor data in chunks.
 */
import { InpageError, ModelFileError } from '../errors';

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

/** `bytes a-b/total` → its parts; undefined when absent or malformed (e.g. an unsatisfied-range answer with no start). */
function parseContentRange(header: string | null): { start: number; end: number; total: number } | undefined {
  const m = header?.match(/^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i);
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]) + 1, total: Number(m[3]) };
}

function networkError(url: string, what: string, cause?: unknown): InpageError {
  return new InpageError('NetworkError', `${url}: ${what}`, { cause });
}

export interface RangeResponse {
  /** The body, not yet read (for streaming). */
  body: ReadableStream<Uint8Array>;
  /** The byte range actually served, [start, end), and the file's total size. */
  start: number;
  end: number;
  total: number;
}

/**
 * Requests bytes [start, end) of a URL and checks the server honoured the Range header: status 206 and a
 * Content-Range naming the same start. A server that ignores Range answers 200 with the whole file;
 * we cancel that body at once rather than download it. A start at or past the end of the file is
 * answered 416; that is returned as an empty range so callers see a short file, not a network error.
 */
export async function fetchRange(
  source: { url: string; headers?: Record<string, string> },
  start: number,
  end: number,
  opts: ByteSourceOptions = {},
): Promise<RangeResponse> {
  const { url } = source;
  let response: Response;
  try {
    response = await (opts.fetch ?? fetch)(url, {
      headers: { ...source.headers, Range: `bytes=${start}-${end - 1}` },
      signal: opts.signal,
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw networkError(url, `request for bytes ${start}-${end - 1} failed: ${String(err)}`, err);
  }
  if (response.status === 416) {
    await response.body?.cancel();
    const total = Number(response.headers.get('content-range')?.match(/\/(\d+)\s*$/)?.[1]);
    const size = Number.isFinite(total) ? total : start;
    return { body: new Blob([]).stream(), start: size, end: size, total: size };
  }
  if (response.status === 200) {
    await response.body?.cancel();
    throw networkError(url, 'the server ignored the Range header (answered 200 with the whole file instead of 206); ' +
      'inpage reads model files in ranges so it never holds a whole file in memory — serve it from a server that supports Range requests');
  }
  if (response.status !== 206) {
    await response.body?.cancel();
    throw networkError(url, `HTTP ${response.status} ${response.statusText} for bytes ${start}-${end - 1}`);
  }
  const range = parseContentRange(response.headers.get('content-range'));
  if (!range || range.start !== start || range.end > end || !response.body) {
    await response.body?.cancel();
    throw networkError(url, `asked for bytes ${start}-${end - 1}, the server answered Content-Range "${response.headers.get('content-range')}"` +
      ' (a cross-origin server must also list Content-Range in Access-Control-Expose-Headers)');
  }
  return { body: response.body, ...range };
}

async function readAll(body: ReadableStream<Uint8Array>, length: number, url: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > length) {
      await reader.cancel();
      throw networkError(url, `the server sent more than the ${length} bytes of the range it announced`);
    }
    out.set(value, at);
    at += value.length;
  }
  if (at !== length) throw networkError(url, `the connection ended after ${at} of ${length} bytes`);
  return out;
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
  const r = await fetchRange(source, start, end, opts);
  return { bytes: await readAll(r.body, r.end - r.start, source.url), fileSize: r.total };
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
  if (length === 0) return;
  const r = await fetchRange(source, start, end, opts);
  if (r.end !== end) {
    await r.body.cancel();
    throw new ModelFileError('TruncatedFile', `${source.url}: a tensor needs bytes ${start}-${end - 1}, but the file has only ${r.total} bytes`);
  }
  const reader = r.body.getReader();
  let chunk = new Uint8Array(Math.min(chunkBytes, length));
  let filled = 0;
  let sent = 0;
  try {
    while (sent < length) {
      const { done, value } = await reader.read();
      if (done) throw networkError(source.url, `the connection ended after ${sent + filled} of ${length} bytes`);
      let v = value;
      while (v.length > 0) {
        const take = Math.min(v.length, chunk.length - filled);
        chunk.set(v.subarray(0, take), filled);
        filled += take;
        v = v.subarray(take);
        if (filled === chunk.length) {
          if (v.length > 0 && sent + filled >= length) throw networkError(source.url, `the server sent more than the ${length} bytes asked for`);
          yield chunk;
          sent += filled;
          filled = 0;
          // A fresh buffer per chunk: the consumer may still hold the previous one (e.g. a pending GPU write).
          if (sent < length) chunk = new Uint8Array(Math.min(chunkBytes, length - sent));
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
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

/**
 * HTTP for the weight cache: Range requests that also report the file's validators (ETag, Last-Modified),
 * errors sorted into transient (retried with backoff: connection failures and cuts, 408/425/429/5xx) and
 * permanent (404, a server that ignores Range, …), and an abortable backoff sleep.
 */
import { InpageError } from '../../errors';

export interface FetchOptions {
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RangeAnswer {
  body: ReadableStream<Uint8Array>;
  /** Bytes [start, end) of a file of `total` bytes. */
  start: number;
  end: number;
  total: number;
  etag: string | null;
  lastModified: string | null;
}

const transientErrors = new WeakSet<object>();

export function networkError(url: string, what: string, transient: boolean, cause?: unknown): InpageError {
  const e = new InpageError('NetworkError', `${url}: ${what}`, { cause });
  if (transient) transientErrors.add(e);
  return e;
}

/** A failure worth retrying: the connection failed or was cut, or the server said "try later". */
export function isTransient(e: unknown): boolean {
  return typeof e === 'object' && e !== null && transientErrors.has(e);
}

const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

function parseContentRange(h: string | null): { start: number; end: number; total: number } | undefined {
  const m = h?.match(/^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i);
  return m ? { start: Number(m[1]), end: Number(m[2]) + 1, total: Number(m[3]) } : undefined;
}

/**
 * GETs bytes [start, end) of `url` (to the end of the file when `end` is undefined) and checks the server
 * honoured the Range header (206, Content-Range starting at `start`).
 */
export async function requestRange(url: string, start: number, end: number | undefined, opts: FetchOptions): Promise<RangeAnswer> {
  const range = `bytes=${start}-${end === undefined ? '' : end - 1}`;
  let r: Response;
  try {
    r = await (opts.fetch ?? fetch)(url, { headers: { ...opts.headers, Range: range }, signal: opts.signal, cache: 'no-store' });
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    throw networkError(url, `request for ${range} failed: ${String(err)}`, true, err);
  }
  const fail = async (what: string, transient: boolean): Promise<never> => {
    await r.body?.cancel().catch(() => {});
    throw networkError(url, what, transient);
  };
  if (r.status === 200) {
    return fail('the server ignored the Range header (answered 200 with the whole file instead of 206); inpage reads and caches ' +
      'model files in ranges — serve it from a server that supports Range requests', false);
  }
  if (r.status !== 206) return fail(`HTTP ${r.status} ${r.statusText} for ${range}`, TRANSIENT_STATUS.has(r.status));
  const cr = parseContentRange(r.headers.get('content-range'));
  if (!cr || cr.start !== start || (end !== undefined && cr.end > end) || !r.body) {
    return fail(`asked for ${range}, the server answered Content-Range "${r.headers.get('content-range')}"` +
      ' (a cross-origin server must also list Content-Range in Access-Control-Expose-Headers)', false);
  }
  return { body: r.body, ...cr, etag: r.headers.get('etag'), lastModified: r.headers.get('last-modified') };
}

/** What a HEAD request says about the file now; undefined when it cannot be asked (offline, HEAD refused, …). */
export async function headInfo(url: string, opts: FetchOptions): Promise<{ size?: number; etag: string | null; lastModified: string | null } | undefined> {
  try {
    const r = await (opts.fetch ?? fetch)(url, { method: 'HEAD', headers: opts.headers, signal: opts.signal, cache: 'no-store' });
    await r.body?.cancel().catch(() => {});
    if (!r.ok) return undefined;
    const len = r.headers.get('content-length');
    return { size: len === null ? undefined : Number(len), etag: r.headers.get('etag'), lastModified: r.headers.get('last-modified') };
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    return undefined;
  }
}

/** The wait before retry `attempt` (1, 2, …): exponential from `baseMs`, capped at 30 s, with ±25% jitter. */
export function backoffMs(attempt: number, baseMs: number): number {
  const d = Math.min(30_000, baseMs * 2 ** (attempt - 1));
  return d * (0.75 + Math.random() * 0.5);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

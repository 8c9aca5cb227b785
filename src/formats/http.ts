/**
 * HTTP for model files, the one client both the uncached reader (./http_reader.ts) and the weight cache
 * (src/runtime/cache) use: Range requests that also report the file's validators (ETag, Last-Modified),
 * errors sorted into transient (retried with backoff: connection failures and cuts, 408/425/429/5xx) and
 * permanent (404, an HTML page where the file should be, …), the identity every later answer must match,
 * and an abortable backoff sleep. A server without Range support (200 with the whole body) is answered as
 * a range from byte 0 marked `whole`, for callers that can read a body from its start.
 */
import { abortErrorOf, InpageError, ModelFileError } from '../errors';

export interface FetchOptions {
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** What identifies one version of a file on the server. */
export interface FileIdentity {
  total: number;
  etag: string | null;
  lastModified: string | null;
}

export interface RangeAnswer extends FileIdentity {
  body: ReadableStream<Uint8Array>;
  /** Bytes [start, end) of a file of `total` bytes. */
  start: number;
  end: number;
  /** The server ignored Range and sent the whole file (start is 0, whatever was asked). */
  whole: boolean;
}

/**
 * Throws unless `now` is the same version of the file as `first`: same size, and the same ETag (else
 * Last-Modified) where both answers carry one. Without validators only the size can be compared; callers
 * that resume across a gap check content too (src/runtime/cache compares an overlapping chunk).
 */
export function checkSameFile(url: string, first: FileIdentity, now: FileIdentity): void {
  const changed =
    now.total !== first.total ? `its size went from ${first.total} to ${now.total} bytes`
    : first.etag !== null && now.etag !== null && first.etag !== now.etag ? `its ETag went from ${first.etag} to ${now.etag}`
    : first.lastModified !== null && now.lastModified !== null && first.lastModified !== now.lastModified ? `its Last-Modified went from ${first.lastModified} to ${now.lastModified}`
    : undefined;
  if (changed) {
    throw new ModelFileError('FileChanged', `${url}: the file changed on the server while it was being read (${changed}); nothing of the two versions was mixed — load it again`);
  }
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
 * honoured the Range header (206, Content-Range starting at `start`). A 200 (no Range support) is returned
 * as the whole file, `whole: true`, when it says its length; a start at or past the end of the file (416)
 * as an empty range at the end.
 */
export async function requestRange(url: string, start: number, end: number | undefined, opts: FetchOptions): Promise<RangeAnswer> {
  const range = `bytes=${start}-${end === undefined ? '' : end - 1}`;
  let r: Response;
  try {
    r = await (opts.fetch ?? fetch)(url, { headers: { ...opts.headers, Range: range }, signal: opts.signal, cache: 'no-store' });
  } catch (err) {
    if (opts.signal?.aborted) throw abortErrorOf(opts.signal);
    throw networkError(url, `request for ${range} failed: ${String(err)}`, true, err);
  }
  const fail = async (what: string, transient: boolean): Promise<never> => {
    await r.body?.cancel().catch(() => {});
    throw networkError(url, what, transient);
  };
  const validators = { etag: r.headers.get('etag'), lastModified: r.headers.get('last-modified') };
  if (r.status === 416) {
    await r.body?.cancel().catch(() => {});
    const total = Number(r.headers.get('content-range')?.match(/\/(\d+)\s*$/)?.[1]);
    const size = Number.isFinite(total) ? total : start;
    return { body: new Blob([]).stream(), start: size, end: size, total: size, whole: false, ...validators };
  }
  if (r.status !== 200 && r.status !== 206) return fail(`HTTP ${r.status} ${r.statusText} for ${range}`, TRANSIENT_STATUS.has(r.status));
  // A page where the file should be (a login wall, an SPA's index.html for an unknown path, a proxy's error):
  // never a model file, though it may come with 200 or even 206.
  if (/^\s*text\/html\b/i.test(r.headers.get('content-type') ?? '')) {
    return fail(`the server answered with an HTML page (Content-Type ${r.headers.get('content-type')}), not the file: check the URL`, false);
  }
  if (!r.body) return fail(`HTTP ${r.status} without a body for ${range}`, true);
  if (r.status === 200) {
    const length = r.headers.get('content-length');
    const total = length === null ? NaN : Number(length);
    if (!Number.isSafeInteger(total)) {
      return fail('the server ignored the Range header and did not say the file\'s length (Content-Length); inpage needs one of the two to read a model file without holding it in memory', false);
    }
    return { body: r.body, start: 0, end: total, total, whole: true, ...validators };
  }
  const cr = parseContentRange(r.headers.get('content-range'));
  if (!cr || cr.start !== start || (end !== undefined && cr.end > end)) {
    return fail(`asked for ${range}, the server answered Content-Range "${r.headers.get('content-range')}"` +
      ' (a cross-origin server must also list Content-Range in Access-Control-Expose-Headers)', false);
  }
  return { body: r.body, ...cr, whole: false, ...validators };
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
    if (opts.signal?.aborted) throw abortErrorOf(opts.signal);
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
    if (signal?.aborted) return reject(abortErrorOf(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortErrorOf(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A whole-file answer (a server without Range support) as the range from `start`: the bytes before it are
 * read and dropped as they arrive, never held. Ranged answers are returned unchanged.
 */
export function fromOffset(answer: RangeAnswer, start: number): RangeAnswer {
  if (!answer.whole || start <= answer.start) return answer;
  const reader = answer.body.getReader();
  let skip = start - answer.start;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        if (value.length <= skip) {
          skip -= value.length;
          continue;
        }
        controller.enqueue(skip > 0 ? value.subarray(skip) : value);
        skip = 0;
        return;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { ...answer, body, start };
}

/** The first `n` bytes of an answer's body (fewer if it ends first), and the answer for the rest. */
export async function splitAnswer(answer: RangeAnswer, n: number): Promise<{ head: Uint8Array; rest: RangeAnswer }> {
  const reader = answer.body.getReader();
  const head = new Uint8Array(n);
  let at = 0;
  let carry: Uint8Array | undefined;
  while (at < n) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, n - at);
    head.set(value.subarray(0, take), at);
    at += take;
    if (take < value.length) carry = value.subarray(take);
  }
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (carry) {
        controller.enqueue(carry);
        carry = undefined;
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { head: head.subarray(0, at), rest: { ...answer, body, start: answer.start + at } };
}

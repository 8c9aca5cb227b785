/**
 * A model file at a URL read without the weight cache (Node, a browser without IndexedDB, `cache: false`),
 * as a RangeReader: every answer is checked to be the same version of the file as the first one (size and
 * validators: never a mix of two versions), transient failures are retried with backoff and a cut body is
 * resumed where it stopped, and a server without Range support (200 with the whole body, e.g.
 * `python3 -m http.server`) is read front to back, skipping what is not asked for — the file is never held
 * in memory either way.
 *
 * Reads go through one cursor, an open response positioned where the last read stopped: the loader reads
 * the header and then the tensors in file order (src/llm/model_weights.ts), so one open-ended request
 * serves many reads. A read behind the cursor, or far ahead of it, opens a new request.
 */
import type { ByteSourceOptions, RangeReader } from './byte_source';
import { abortErrorOf } from '../errors';
import { backoffMs, checkSameFile, isTransient, networkError, requestRange, sleep, type FileIdentity, type RangeAnswer } from './http';

export interface HttpReaderOptions {
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  /** Aborts the opening request and every read (reads may also pass their own signal). */
  signal?: AbortSignal;
  /** Retries per failing request (transient failures only: cuts, 408/425/429/5xx). Default 4. */
  retries?: number;
  /** First backoff delay, doubled per retry. Default 500 ms. */
  retryDelayMs?: number;
}

/** The first request's length: the GGUF header of any model fits, and so do whole small files. */
export const HEAD_BYTES = 2 << 20;
/** A read this far ahead of the cursor is skipped to on the open response rather than requested anew. */
const MAX_SKIP_BYTES = 4 << 20;

export class HttpReader implements RangeReader {
  readonly name: string;
  readonly size: number;
  /** Requests made (for tests and diagnostics). */
  requests = 1;
  /** Bytes [0, head.length) of the file, read by the opening request (whole small files). */
  private head: Uint8Array = new Uint8Array(0);
  private cursor: Cursor | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly url: string,
    private readonly o: HttpReaderOptions,
    private readonly identity: FileIdentity,
    /** The server ignores Range: every request is the whole file from byte 0. */
    readonly wholeOnly: boolean,
  ) {
    this.name = url;
    this.size = identity.total;
  }

  static async open(source: { url: string; headers?: Record<string, string> }, o: HttpReaderOptions = {}): Promise<HttpReader> {
    const opts = { ...o, headers: { ...o.headers, ...source.headers } };
    const answer = await withRetries(opts, o.signal, () => requestRange(source.url, 0, HEAD_BYTES, fetchOpts(opts, o.signal)));
    const self = new HttpReader(source.url, opts, answer, answer.whole);
    self.cursor = { at: 0, reader: answer.body.getReader() };
    self.head = await self.read(0, Math.min(HEAD_BYTES, answer.total));
    if (!answer.whole) self.close(); // a ranged answer ends with the head; later reads ask for what they need
    return self;
  }

  read(start: number, end: number, opts: ByteSourceOptions = {}): Promise<Uint8Array> {
    if (start < 0 || end > this.size || start > end) return Promise.reject(new RangeError(`bytes ${start}-${end} are outside the file (${this.size} bytes)`));
    if (end <= this.head.length) return Promise.resolve(this.head.subarray(start, end));
    // One cursor: reads run one after another. What the head holds is not asked for again.
    const from = Math.max(start, this.head.length);
    const run = this.queue.then(async () => {
      const rest = await this.readAt(from, end, opts.signal ?? this.o.signal);
      if (from === start) return rest;
      const out = new Uint8Array(end - start);
      out.set(this.head.subarray(start), 0);
      out.set(rest, from - start);
      return out;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Stops any open response. */
  close(): void {
    const c = this.cursor;
    this.cursor = undefined;
    void c?.reader.cancel().catch(() => {});
  }

  /** Bytes [start, end), resuming where a cut stopped and retrying transient failures with backoff. */
  private async readAt(start: number, end: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const out = new Uint8Array(end - start);
    let done = 0;
    let failures = 0;
    while (done < out.length) {
      if (signal?.aborted) throw abortErrorOf(signal);
      try {
        const c = await this.cursorAt(start + done, signal);
        while (done < out.length) {
          const piece = await this.take(c, out.length - done, signal);
          out.set(piece, done);
          done += piece.length;
          failures = 0;
        }
      } catch (e) {
        this.close();
        if (signal?.aborted) throw abortErrorOf(signal);
        if (!isTransient(e) || ++failures > (this.o.retries ?? 4)) throw e;
        await sleep(backoffMs(failures, this.o.retryDelayMs ?? 500), signal);
      }
    }
    return out;
  }

  /** The open response positioned at `at`: skipping forward on it, or a new request from `at`. */
  private async cursorAt(at: number, signal: AbortSignal | undefined): Promise<Cursor> {
    const c = this.cursor;
    if (c && c.at <= at && (this.wholeOnly || at - c.at <= MAX_SKIP_BYTES)) {
      await this.skip(c, at - c.at, signal);
      return c;
    }
    this.close();
    this.requests++;
    const answer: RangeAnswer = await requestRange(this.url, at, undefined, fetchOpts(this.o, signal));
    checkSameFile(this.url, this.identity, answer);
    const next: Cursor = { at: answer.start, reader: answer.body.getReader() };
    this.cursor = next;
    await this.skip(next, at - next.at, signal); // a server that dropped Range support sends from byte 0
    return next;
  }

  private async skip(c: Cursor, n: number, signal: AbortSignal | undefined): Promise<void> {
    for (let left = n; left > 0; ) left -= (await this.take(c, left, signal)).length;
  }

  /** Up to `max` bytes from the cursor (at least one); a body that ends early is a transient cut. */
  private async take(c: Cursor, max: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    let piece = c.pending;
    c.pending = undefined;
    if (!piece) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await c.reader.read();
      } catch (err) {
        if (signal?.aborted) throw abortErrorOf(signal);
        throw networkError(this.url, `the connection failed mid-transfer at byte ${c.at}: ${String(err)}`, true, err);
      }
      if (r.done) throw networkError(this.url, `the connection ended at byte ${c.at} of ${this.size}`, true);
      piece = r.value;
    }
    if (piece.length > max) {
      c.pending = piece.subarray(max);
      piece = piece.subarray(0, max);
    }
    c.at += piece.length;
    return piece;
  }
}

interface Cursor {
  /** File offset of the next byte the response gives. */
  at: number;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Bytes received beyond what the last read took. */
  pending?: Uint8Array;
}

function fetchOpts(o: HttpReaderOptions, signal: AbortSignal | undefined) {
  return { fetch: o.fetch, headers: o.headers, signal };
}

async function withRetries<T>(o: HttpReaderOptions, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
  for (let failures = 0; ; ) {
    try {
      return await attempt();
    } catch (e) {
      if (signal?.aborted) throw abortErrorOf(signal);
      if (!isTransient(e) || ++failures > (o.retries ?? 4)) throw e;
      await sleep(backoffMs(failures, o.retryDelayMs ?? 500), signal);
    }
  }
}

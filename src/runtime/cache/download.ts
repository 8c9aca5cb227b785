/**
 * The network side of the weight cache: Range requests retried with backoff while failures are transient,
 * and a response body cut into the entry's chunks as it arrives. Each full chunk goes to the sink (which
 * hashes and stores it) without waiting for it, so the network keeps streaming while chunks are written;
 * at most MAX_PENDING_WRITES chunks wait at once, which bounds the memory a download holds.
 */
import { InpageError } from '../../errors';
import { backoffMs, fromOffset, isTransient, networkError, requestRange, sleep, type FetchOptions, type RangeAnswer } from '../../formats/http';
import { chunkLength, type Manifest } from './store';

/** Chunks hashed and written while the network goes on (each holds one chunk in memory). */
export const MAX_PENDING_WRITES = 3;

export interface DownloadStats {
  /** Bytes received from the network. */
  networkBytes: number;
  requests: number;
}

/** Where received chunks go. */
export interface ChunkSink {
  /** A complete chunk; the promise settles once it is stored (a rejection fails the download). */
  chunk(index: number, bytes: Uint8Array): Promise<void>;
  /** After every piece from the network: bytes received of the chunk being filled. */
  progress(partialBytes: number): void;
}

export class RangeDownloader {
  constructor(
    private readonly url: string,
    private readonly fetchOpts: FetchOptions & { signal: AbortSignal },
    private readonly stats: DownloadStats,
    private readonly retries: number,
    private readonly retryDelayMs: number,
  ) {}

  /** One Range request, retried with backoff while the failures are transient. */
  async request(start: number, end: number | undefined): Promise<RangeAnswer> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.stats.requests++;
        // A server without Range support answers with the whole file: read on from `start`.
        return fromOffset(await requestRange(this.url, start, end, this.fetchOpts), start);
      } catch (e) {
        if (!isTransient(e) || this.fetchOpts.signal.aborted) throw e;
        if (attempt >= this.retries) throw giveUp(this.url, this.retries, e);
        await sleep(backoffMs(attempt + 1, this.retryDelayMs), this.fetchOpts.signal);
      }
    }
  }

  /** Reads a short body in full (a repair), counting network bytes; a cut is a transient NetworkError. */
  async readBody(answer: RangeAnswer, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let at = 0;
    const reader = answer.body.getReader();
    try {
      for (;;) {
        const { done, value } = await this.readPiece(reader);
        if (done) break;
        this.stats.networkBytes += value.length;
        if (at + value.length > length) {
          if (!answer.whole) throw networkError(this.url, `the server sent more than the ${length} bytes asked for`, false);
          out.set(value.subarray(0, length - at), at); // the rest of a whole-file answer is not needed
          at = length;
          break;
        }
        out.set(value, at);
        at += value.length;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    if (at !== length) throw networkError(this.url, `the connection ended after ${at} of ${length} bytes`, true);
    return out;
  }

  /**
   * Streams a range answer into the chunks of `m`, starting at chunk `first`: fills one chunk at a time and
   * hands each full one to the sink. Returns once every chunk the answer covers is stored.
   */
  async receive(answer: RangeAnswer, m: Manifest, first: number, sink: ChunkSink): Promise<void> {
    const cb = m.chunkBytes;
    const end = answer.end === m.size ? m.chunkCount : Math.floor(answer.end / cb);
    if (end <= first) {
      await answer.body.cancel().catch(() => {});
      throw networkError(this.url, `the server answered only bytes ${answer.start}-${answer.end - 1}, less than one chunk`, false);
    }
    const reader = answer.body.getReader();
    const pending: Promise<void>[] = [];
    let index = first;
    let buf = new Uint8Array(chunkLength(m, index));
    let filled = 0;
    try {
      while (index < end) {
        const { done, value } = await this.readPiece(reader);
        if (done) {
          throw networkError(this.url, `the connection ended after ${index * cb + filled - answer.start} of ` +
            `${answer.end - answer.start} bytes`, true);
        }
        this.stats.networkBytes += value.length;
        let v = value;
        while (v.length > 0 && index < end) {
          const take = Math.min(v.length, buf.length - filled);
          buf.set(v.subarray(0, take), filled);
          filled += take;
          v = v.subarray(take);
          if (filled === buf.length) {
            const p = sink.chunk(index, buf);
            p.catch(() => {});
            pending.push(p);
            index++;
            while (pending.length > MAX_PENDING_WRITES) await pending.shift();
            if (index < end) {
              buf = new Uint8Array(chunkLength(m, index));
              filled = 0;
            }
          }
        }
        sink.progress(index < end ? filled : 0);
      }
    } finally {
      await reader.cancel().catch(() => {});
      // Settle every write started; a failed write (quota …) is the error that matters.
      const results = await Promise.allSettled(pending);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  private async readPiece(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadableStreamReadResult<Uint8Array>> {
    try {
      return await reader.read();
    } catch (err) {
      if (this.fetchOpts.signal.aborted) throw this.fetchOpts.signal.reason ?? err;
      throw networkError(this.url, `the connection failed mid-transfer: ${String(err)}`, true, err);
    }
  }
}

export function giveUp(url: string, retries: number, cause: unknown): InpageError {
  const why = cause instanceof Error ? cause.message.replace(`${url}: `, '') : String(cause);
  return new InpageError('NetworkError', `${url}: download failed after ${retries} retr${retries === 1 ? 'y' : 'ies'}: ${why}`, { cause });
}

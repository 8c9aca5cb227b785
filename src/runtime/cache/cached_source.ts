/**
 * CachedUrlSource: a model file at a URL, read through the IndexedDB weight cache. It is a RangeReader
 * (src/formats/byte_source.ts), so `{ reader: source }` is a ByteSource and openGguf / readTensorChunks
 * work on it unchanged.
 *
 * First use streams the file into chunk records (one Range request from the first missing chunk to the
 * end; each chunk SHA-256-hashed as it completes and stored with its digest in one transaction, while the
 * network keeps streaming), and reads are served as the chunks arrive. A cut connection or a transient HTTP
 * error is retried with backoff from the last complete chunk; a later page load resumes the same way. A
 * cached chunk is verified against its digest whenever it is read back: a corrupt, partial or missing record
 * is dropped and its range fetched again, never returned. JS memory holds a few chunks at most (the one being
 * read, one read ahead, and those still being written), never the file.
 */
import type { ByteSourceOptions, RangeReader } from '../../formats/byte_source';
import { InpageError } from '../../errors';
import { sha256Hex } from './digest';
import { CorruptCacheError, QuotaExceededError } from './errors';
import { backoffMs, headInfo, isTransient, networkError, requestRange, sleep, type RangeAnswer } from './http';
import { downloadLimiter, type Limiter } from './limiter';
import { RateMeter, Throttle } from '../../progress';
import { availableBytes, defaultStorage, ensureRoom, isQuotaError, requestPersistence, type StorageLike } from './quota';
import {
  chunkLength, deleteEntry, dropChunk, getChunk, getManifest, isUsable, newManifest, putChunk, putNewManifest, storedBytes,
  type Manifest,
} from './store';

export const DEFAULT_CHUNK_BYTES = 8 << 20;
/** Chunks hashed and written while the network goes on (each holds one chunk in memory). */
const MAX_PENDING_WRITES = 3;

/** Settings of the weight cache (`loadModel({ cache: { … } })`). */
export interface WeightCacheOptions {
  /** Bytes per chunk record for new entries (default 8 MiB); an existing entry keeps its own. */
  chunkBytes?: number;
  /**
   * Before using a complete entry, ask the server (one HEAD request) whether the file changed (size, ETag,
   * Last-Modified) and download it again if so. Default false: a complete cached file loads with no request
   * at all (offline too). A partial entry is always checked, by the Range request that resumes it.
   */
  revalidate?: boolean;
  /** Retries of a transient failure in a row before giving up with NetworkError (default 5). */
  retries?: number;
  /** First retry delay; doubles each time (default 500 ms). */
  retryDelayMs?: number;
  /** The StorageManager used for the room check and persist() (default navigator.storage; null skips both). */
  storage?: StorageLike | null;
  /** Bounds downloads running at once (default: the page-wide limiter, 2 at a time). */
  limiter?: Limiter;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

export interface CacheProgressEvent {
  phase: 'download' | 'cache-read';
  url: string;
  /** download: bytes of the file held (cached before plus received); cache-read: bytes read back and verified. */
  loadedBytes: number;
  totalBytes: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at that rate (undefined while unknown). */
  etaSeconds?: number;
}

export interface OpenCachedOptions extends WeightCacheOptions {
  signal?: AbortSignal;
  onProgress?: (e: CacheProgressEvent) => void;
}

/** What one open did, for tests and benchmarks. */
export interface CacheSourceStats {
  /** Bytes received from the network. */
  networkBytes: number;
  requests: number;
  /** Chunks read back from IndexedDB and verified. */
  chunksRead: number;
  /** Bad chunks dropped and fetched again. */
  repairs: number;
  /** The entry was found complete when opened. */
  hit: boolean;
}

export function absoluteUrl(url: string): string {
  try {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    return new URL(url, base).href;
  } catch {
    return url;
  }
}

export class CachedUrlSource implements RangeReader {
  readonly name: string;
  readonly stats: CacheSourceStats = { networkBytes: 0, requests: 0, chunksRead: 0, repairs: 0, hit: false };
  private m!: Manifest;
  private readonly controller = new AbortController();
  private readonly fetchOpts: { fetch?: typeof fetch; headers?: Record<string, string>; signal: AbortSignal };
  private readonly storage: StorageLike | null | undefined;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  /** The running download; resolves when every chunk is stored. */
  private download?: Promise<void>;
  private failure?: unknown;
  private downloading = false;
  /** Chunks downloaded in this session that readers may still want (kept until written and no longer recent). */
  private readonly recent = new Map<number, Uint8Array>();
  /** Loads of stored chunks: the one being read and one ahead. */
  private readonly loads = new Map<number, Promise<Uint8Array>>();
  private readonly waiters = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }[]>();
  private readonly repairing = new Map<number, Promise<Uint8Array>>();
  private storedAtOpen = 0;
  /** cache-read progress counts each chunk once (the header read and the tensor reads may both touch it). */
  private readOnce = new Uint8Array(0);
  /** download progress: bytes of complete chunks (stored before, or received in this session). */
  private heldBytes = 0;
  private cacheReadBytes = 0;
  private readonly downloadMeter = new RateMeter();
  private readonly readMeter = new RateMeter();
  private readonly downloadThrottle = new Throttle();
  private readonly readThrottle = new Throttle();
  private closed = false;

  private constructor(url: string, private readonly opts: OpenCachedOptions) {
    this.name = url;
    this.storage = opts.storage === undefined ? defaultStorage() : opts.storage;
    this.retries = opts.retries ?? 5;
    this.retryDelayMs = opts.retryDelayMs ?? 500;
    if (opts.signal) {
      if (opts.signal.aborted) this.controller.abort(opts.signal.reason);
      else opts.signal.addEventListener('abort', () => this.controller.abort(opts.signal!.reason), { once: true });
    }
    this.fetchOpts = { fetch: opts.fetch, headers: opts.headers, signal: this.controller.signal };
  }

  /**
   * Opens `url` through the cache. A complete entry opens with no network request (unless `revalidate`);
   * otherwise the download starts (after a free download slot, the room check and persist()) and the
   * promise resolves once the file's size is known — reads then wait for the chunks they need.
   */
  static async open(url: string, opts: OpenCachedOptions = {}): Promise<CachedUrlSource> {
    const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new InpageError('InvalidArgument', `cache chunkBytes must be a positive integer, got ${opts.chunkBytes}`);
    const source = new CachedUrlSource(absoluteUrl(url), opts);
    try {
      await source.init(chunkBytes);
    } catch (e) {
      source.close();
      throw e;
    }
    return source;
  }

  get size(): number {
    return this.m.size;
  }

  get manifest(): Readonly<Manifest> {
    return this.m;
  }

  /** Chunks this source holds in JS memory now (bounded, whatever the file's size). */
  get residentChunks(): number {
    return this.recent.size + this.loads.size;
  }

  private async init(chunkBytes: number): Promise<void> {
    await this.open(chunkBytes);
    this.readOnce = new Uint8Array(this.m.chunkCount);
  }

  private async open(chunkBytes: number): Promise<void> {
    let m: Manifest | undefined;
    const found = await getManifest(this.name);
    if (found !== undefined) {
      if (isUsable(found, this.name)) m = { ...found, complete: found.digests.every((d) => d !== null) };
      else await deleteEntry(this.name);
    }
    if (m?.complete && this.opts.revalidate) {
      const now = await headInfo(this.name, this.fetchOpts);
      this.stats.requests++;
      if (now && !sameVersion(m, now)) {
        await deleteEntry(this.name);
        m = undefined;
      }
    }
    if (m?.complete) {
      this.m = m;
      this.storedAtOpen = m.size;
      this.stats.hit = true;
      return;
    }
    await this.startDownload(m, chunkBytes);
  }

  private async startDownload(existing: Manifest | undefined, chunkBytes: number): Promise<void> {
    const release = await (this.opts.limiter ?? downloadLimiter).acquire(this.controller.signal);
    try {
      let answer: RangeAnswer;
      let m = existing;
      if (m) {
        const run = missingRun(m)!;
        answer = await this.requestWithRetry(run.start, run.end);
        if (answer.total !== m.size || !sameVersion(m, answer)) {
          // The file changed on the server since the partial download: start again from byte 0.
          await answer.body.cancel().catch(() => {});
          m = undefined;
        }
      }
      if (!m) {
        answer = await this.requestWithRetry(0, undefined);
        m = newManifest(this.name, answer!.total, answer!.etag, answer!.lastModified, chunkBytes);
      }
      const needed = m.size - storedBytes(m);
      try {
        await ensureRoom(this.name, needed, this.storage);
      } catch (e) {
        await answer!.body.cancel().catch(() => {});
        throw e;
      }
      await requestPersistence(this.storage);
      if (m !== existing) await putNewManifest(m);
      this.m = m;
      this.storedAtOpen = storedBytes(m);
      this.heldBytes = this.storedAtOpen;
      this.downloading = true;
      this.download = this.downloadLoop(answer!).finally(() => {
        this.downloading = false;
        release();
      });
      this.download.catch((e) => this.fail(e));
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Resolves when the whole file is in the cache (at once for a cache hit); rejects if the download failed. */
  async whenComplete(): Promise<void> {
    await this.download;
  }

  /** Stops the download if one is running and frees the chunks held in memory. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort(new InpageError('Aborted', `${this.name}: the cached source was closed`));
    this.recent.clear();
    this.loads.clear();
  }

  async read(start: number, end: number, opts: ByteSourceOptions = {}): Promise<Uint8Array> {
    opts.signal?.throwIfAborted();
    if (start < 0 || end > this.m.size || start > end) throw new RangeError(`bytes ${start}-${end} are outside the file (${this.m.size} bytes)`);
    if (end === start) return new Uint8Array(0);
    const cb = this.m.chunkBytes;
    const first = Math.floor(start / cb);
    const last = Math.floor((end - 1) / cb);
    if (first === last) {
      const c = await this.chunk(first);
      return c.subarray(start - first * cb, end - first * cb);
    }
    const out = new Uint8Array(end - start);
    for (let i = first; i <= last; i++) {
      const c = await this.chunk(i);
      const from = Math.max(start, i * cb);
      const to = Math.min(end, i * cb + c.length);
      out.set(c.subarray(from - i * cb, to - i * cb), from - start);
      opts.signal?.throwIfAborted();
    }
    return out;
  }

  // ---- reading ---------------------------------------------------------------------------------------

  private chunk(i: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new InpageError('Aborted', `${this.name}: the cached source was closed`));
    const p = this.chunkPromise(i);
    // Keep the chunk being read and the next one; read the next ahead while this one is consumed.
    for (const k of [...this.loads.keys()]) if (k !== i && k !== i + 1) this.loads.delete(k);
    if (i + 1 < this.m.chunkCount && this.m.digests[i + 1] && !this.recent.has(i + 1)) this.chunkPromise(i + 1);
    return p;
  }

  private chunkPromise(i: number): Promise<Uint8Array> {
    const r = this.recent.get(i);
    if (r) return Promise.resolve(r);
    const fixing = this.repairing.get(i);
    if (fixing) return fixing;
    let p = this.loads.get(i);
    if (!p) {
      const q = this.m.digests[i] ? this.loadStored(i) : this.waitForDownload(i);
      q.catch(() => {
        if (this.loads.get(i) === q) this.loads.delete(i);
      });
      this.loads.set(i, q);
      p = q;
    }
    return p;
  }

  private waitForDownload(i: number): Promise<Uint8Array> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.downloading) return Promise.reject(new InpageError('CorruptCache', `${this.name}: internal: chunk ${i} is missing and no download is running`));
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(i) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(i, list);
    });
  }

  /** Reads a stored chunk back and verifies it; a bad one is dropped and fetched again. */
  private async loadStored(i: number): Promise<Uint8Array> {
    const m = this.m;
    const expected = m.digests[i]!;
    let value: Uint8Array | undefined;
    try {
      value = await getChunk(m, i);
    } catch {
      value = undefined; // an unreadable record (e.g. its blob file is gone) is a bad chunk like any other
    }
    if (value && value.length === chunkLength(m, i) && (await sha256Hex(value)) === expected) {
      this.stats.chunksRead++;
      if (!this.readOnce[i]) {
        this.readOnce[i] = 1;
        this.cacheReadBytes += value.length;
      }
      this.emitRead();
      return value;
    }
    return this.repair(i, expected);
  }

  private repair(i: number, expected: string): Promise<Uint8Array> {
    let p = this.repairing.get(i);
    if (!p) {
      p = this.doRepair(i, expected).finally(() => this.repairing.delete(i));
      this.repairing.set(i, p);
    }
    return p;
  }

  private async doRepair(i: number, expected: string): Promise<Uint8Array> {
    const m = this.m;
    this.stats.repairs++;
    await dropChunk(m, i);
    m.digests[i] = null;
    m.complete = false;
    const start = i * m.chunkBytes;
    const len = chunkLength(m, i);
    const answer = await this.requestWithRetry(start, start + len);
    if (answer.total !== m.size || !sameVersion(m, answer)) {
      await answer.body.cancel().catch(() => {});
      await deleteEntry(this.name);
      throw new CorruptCacheError(this.name, `chunk ${i} of the cached copy was bad, and the file changed on the server meanwhile; ` +
        'the cached copy was dropped — load the model again');
    }
    const bytes = await this.readBody(answer, len);
    const digest = await sha256Hex(bytes);
    if (digest !== expected) {
      await deleteEntry(this.name);
      throw new CorruptCacheError(this.name, `chunk ${i} of the cached copy was bad and the server's bytes for it do not match ` +
        'the digest recorded when it was cached, so it cannot be repaired; the cached copy was dropped — load the model again');
    }
    await this.store(i, bytes, digest);
    return bytes;
  }

  /** Reads a short body in full (a repair), counting network bytes; a cut is a transient NetworkError. */
  private async readBody(answer: RangeAnswer, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let at = 0;
    const reader = answer.body.getReader();
    try {
      for (;;) {
        const { done, value } = await this.readPiece(reader);
        if (done) break;
        if (at + value.length > length) throw networkError(this.name, `the server sent more than the ${length} bytes asked for`, false);
        out.set(value, at);
        at += value.length;
        this.stats.networkBytes += value.length;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    if (at !== length) throw networkError(this.name, `the connection ended after ${at} of ${length} bytes`, true);
    return out;
  }

  private async readPiece(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadableStreamReadResult<Uint8Array>> {
    try {
      return await reader.read();
    } catch (err) {
      if (this.controller.signal.aborted) throw this.controller.signal.reason ?? err;
      throw networkError(this.name, `the connection failed mid-transfer: ${String(err)}`, true, err);
    }
  }

  /** One Range request, retried with backoff while the failures are transient. */
  private async requestWithRetry(start: number, end: number | undefined): Promise<RangeAnswer> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.stats.requests++;
        return await requestRange(this.name, start, end, this.fetchOpts);
      } catch (e) {
        if (!isTransient(e) || this.controller.signal.aborted) throw e;
        if (attempt >= this.retries) throw giveUp(this.name, this.retries, e);
        await sleep(backoffMs(attempt + 1, this.retryDelayMs), this.controller.signal);
      }
    }
  }

  // ---- downloading -----------------------------------------------------------------------------------

  private async downloadLoop(first: RangeAnswer): Promise<void> {
    let answer: RangeAnswer | undefined = first;
    let failures = 0;
    for (;;) {
      const run = missingRun(this.m);
      if (!run) break;
      let stored = 0;
      try {
        answer ??= await this.requestWithRetry(run.start, run.end);
        if (answer.total !== this.m.size || !sameVersion(this.m, answer)) {
          await answer.body.cancel().catch(() => {});
          await deleteEntry(this.name);
          throw new CorruptCacheError(this.name, 'the file changed on the server while it was being downloaded; the partial cached copy ' +
            'was dropped — load the model again');
        }
        const a = answer;
        answer = undefined;
        await this.receive(a, run.first, () => stored++);
        failures = 0;
      } catch (e) {
        answer = undefined;
        if (!isTransient(e) || this.controller.signal.aborted) throw e;
        if (stored > 0) failures = 0; // progress was made: only failures in a row count
        if (++failures > this.retries) throw giveUp(this.name, this.retries, e);
        await sleep(backoffMs(failures, this.retryDelayMs), this.controller.signal);
      }
    }
    this.emitDownload(true);
    this.downloading = false;
    // Chunks nobody waits for any more (stored; a reader reads them back). Nothing else can be waiting.
    for (const [i, list] of this.waiters) {
      this.waiters.delete(i);
      this.chunkPromise(i).then((b) => list.forEach((w) => w.resolve(b)), (e) => list.forEach((w) => w.reject(e)));
    }
  }

  /**
   * Streams a range answer into chunk records, starting at chunk `first`: fills one chunk at a time and hands
   * each full one to hashing + writing without waiting for it (at most MAX_PENDING_WRITES at once).
   */
  private async receive(answer: RangeAnswer, first: number, onStored: () => void): Promise<void> {
    const m = this.m;
    const cb = m.chunkBytes;
    const end = answer.end === m.size ? m.chunkCount : Math.floor(answer.end / cb);
    if (end <= first) {
      await answer.body.cancel().catch(() => {});
      throw networkError(this.name, `the server answered only bytes ${answer.start}-${answer.end - 1}, less than one chunk`, false);
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
          throw networkError(this.name, `the connection ended after ${index * cb + filled - answer.start} of ` +
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
            this.heldBytes += buf.length;
            const p = this.hashAndStore(index, buf).then(onStored);
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
        this.emitDownload(false, index < end ? filled : 0);
      }
    } finally {
      await reader.cancel().catch(() => {});
      // Settle every write started; a failed write (quota …) is the error that matters.
      const results = await Promise.allSettled(pending);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  private async hashAndStore(i: number, bytes: Uint8Array): Promise<void> {
    const digest = await sha256Hex(bytes);
    // Readers get the chunk now; it stays in `recent` until written (and no longer among the last two).
    this.recent.set(i, bytes);
    const list = this.waiters.get(i);
    this.waiters.delete(i);
    list?.forEach((w) => w.resolve(bytes));
    await this.store(i, bytes, digest);
    this.trimRecent();
  }

  private async store(i: number, bytes: Uint8Array, digest: string): Promise<void> {
    let ok: boolean;
    try {
      ok = await putChunk(this.m, i, bytes, digest);
    } catch (e) {
      if (isQuotaError(e)) {
        const needed = this.m.size - storedBytes(this.m);
        throw new QuotaExceededError(this.name, needed, (await availableBytes(this.storage)) ?? 0, { cause: e });
      }
      throw e;
    }
    if (!ok) {
      throw new CorruptCacheError(this.name, 'the cache entry was deleted or replaced while this model was loading ' +
        '(cache.delete / cache.clear, or another tab); load the model again');
    }
    this.m.digests[i] = digest;
    this.m.complete = this.m.digests.every((d) => d !== null);
  }

  private trimRecent(): void {
    const keys = [...this.recent.keys()];
    for (const k of keys.slice(0, Math.max(0, keys.length - 2))) if (this.m.digests[k]) this.recent.delete(k);
  }

  private fail(e: unknown): void {
    this.failure = e;
    for (const [i, list] of this.waiters) {
      this.waiters.delete(i);
      list.forEach((w) => w.reject(e));
    }
  }

  // ---- progress --------------------------------------------------------------------------------------

  private emitDownload(last: boolean, partial = 0): void {
    const total = this.m.size;
    const loaded = Math.min(total, this.heldBytes + partial);
    const rate = this.downloadMeter.update(this.stats.networkBytes);
    if (!this.opts.onProgress || !this.downloadThrottle.ready(last)) return;
    this.opts.onProgress({ phase: 'download', url: this.name, loadedBytes: loaded, totalBytes: total, rate, etaSeconds: this.downloadMeter.eta(total - loaded) });
  }

  private emitRead(): void {
    const total = Math.max(this.storedAtOpen, this.cacheReadBytes);
    const rate = this.readMeter.update(this.cacheReadBytes);
    const last = this.cacheReadBytes >= total;
    if (!this.opts.onProgress || !this.readThrottle.ready(last)) return;
    this.opts.onProgress({
      phase: 'cache-read', url: this.name, loadedBytes: this.cacheReadBytes, totalBytes: total, rate, etaSeconds: this.readMeter.eta(total - this.cacheReadBytes),
    });
  }
}

/** The first run of consecutive missing chunks, as chunk indices and bytes; undefined when none is missing. */
function missingRun(m: Manifest): { first: number; last: number; start: number; end: number } | undefined {
  const first = m.digests.findIndex((d) => d === null);
  if (first < 0) return undefined;
  let last = first;
  while (last + 1 < m.chunkCount && m.digests[last + 1] === null) last++;
  return { first, last, start: first * m.chunkBytes, end: Math.min(m.size, (last + 1) * m.chunkBytes) };
}

/** The server's file is the cached one: same size (when known), same ETag (when both have one), else same Last-Modified. */
function sameVersion(m: Manifest, now: { size?: number; total?: number; etag: string | null; lastModified: string | null }): boolean {
  const size = now.total ?? now.size;
  if (size !== undefined && Number.isFinite(size) && size !== m.size) return false;
  if (m.etag !== null && now.etag !== null) return m.etag === now.etag;
  if (m.lastModified !== null && now.lastModified !== null) return m.lastModified === now.lastModified;
  return true;
}

function giveUp(url: string, retries: number, cause: unknown): InpageError {
  const why = cause instanceof Error ? cause.message.replace(`${url}: `, '') : String(cause);
  return new InpageError('NetworkError', `${url}: download failed after ${retries} retr${retries === 1 ? 'y' : 'ies'}: ${why}`, { cause });
}

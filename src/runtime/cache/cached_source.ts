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
 * read, READ_AHEAD_CHUNKS read ahead, and those still being written), never the file.
 *
 * This module holds the entry's state and the reading side; ./download.ts the requests and the chunking of a
 * response, ./manifest.ts what a manifest says, ./store.ts the IndexedDB records.
 */
import type { ByteSourceOptions, RangeReader } from '../../formats/byte_source';
import { InpageError } from '../../errors';
import { sha256Chunk, startDigestHelper } from './digest';
import { CorruptCacheError, QuotaExceededError } from './errors';
import { RateMeter, Throttle } from '../../progress';
import { giveUp, RangeDownloader } from './download';
import { backoffMs, headInfo, isTransient, sleep, splitAnswer, type RangeAnswer } from '../../formats/http';
import { downloadLimiter } from './limiter';
import { missingRun, sameVersion } from './manifest';
import { absoluteUrl, DEFAULT_CHUNK_BYTES, type CacheSourceStats, type OpenCachedOptions } from './options';
import { availableBytes, defaultStorage, ensureRoom, isQuotaError, requestPersistence, type StorageLike } from './quota';
import {
  chunkLength, deleteEntry, dropChunk, getChunk, getManifest, isUsable, newManifest, putChunk, putNewManifest, storedBytes,
  type Manifest,
} from './store';

/**
 * Stored chunks loaded ahead of the one being read. Reading a chunk back (IndexedDB) and verifying it
 * (SHA-256) take about as long as each other and use different threads, so they overlap only when more
 * than one chunk is in flight: a cached reload of a 69 MiB model in Chromium took 260 ms with 1 ahead,
 * 250 with 2, 228 with 3 and 235 with 5 (measured in Chromium on 2 cores). The cost is memory: 1 + 3
 * chunks (32 MiB at the default chunk size) at most while reading.
 */
export const READ_AHEAD_CHUNKS = 3;

/**
 * Bytes before a resume point re-requested and compared with what is stored, when the server gives no
 * validator to tell a replaced file by (see resume): two versions of a model agree on 4 KiB of weights at
 * the same offset essentially never, and a network that cuts often still makes progress.
 */
export const RESUME_OVERLAP_BYTES = 4096;

export class CachedUrlSource implements RangeReader {
  readonly name: string;
  readonly stats: CacheSourceStats = { networkBytes: 0, requests: 0, chunksRead: 0, repairs: 0, hit: false };
  private m!: Manifest;
  private readonly controller = new AbortController();
  private readonly fetchOpts: { fetch?: typeof fetch; headers?: Record<string, string>; signal: AbortSignal };
  private readonly storage: StorageLike | null | undefined;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly net: RangeDownloader;
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
    this.net = new RangeDownloader(url, this.fetchOpts, this.stats, this.retries, this.retryDelayMs);
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

  /** Reads within one chunk are served without a copy (RangeReader.blockBytes). */
  get blockBytes(): number {
    return this.m.chunkBytes;
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
    startDigestHelper(); // every chunk read back or downloaded is hashed
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
        this.m = m; // resume() reads a stored chunk back
        const resumed = await this.resume(m, missingRun(m)!);
        if (resumed) answer = resumed;
        else {
          // The file changed on the server since the partial download: start again from byte 0.
          this.loads.clear();
          m = undefined;
        }
      }
      if (!m) {
        answer = await this.net.request(0, undefined);
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

  /** Closes the source and deletes its cache entry (a file that turned out not to be worth keeping). */
  async discard(): Promise<void> {
    this.close();
    await this.download?.catch(() => {});
    await deleteEntry(this.name);
  }

  /** Stops the download if one is running and frees the chunks held in memory. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort(new InpageError('Aborted', `${this.name}: the cached source was closed`));
    this.recent.clear();
    this.loads.clear();
  }

  /**
   * Starts loading the stored chunks from byte `at` (that chunk and READ_AHEAD_CHUNKS after it) before
   * anyone reads them: a model's loader reads the header first, so loading it can start while the caller
   * still chooses a backend and acquires a device. A failure is reported to the read that needs the chunk.
   */
  startReading(at = 0): void {
    if (this.closed || at >= this.m.size) return;
    this.chunk(Math.floor(at / this.m.chunkBytes)).catch(() => {});
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
    // Keep the chunk being read and READ_AHEAD_CHUNKS after it, loading (IndexedDB read, then SHA-256) while
    // this one is consumed: with several loads in flight, one chunk's read overlaps another's hashing.
    for (const k of [...this.loads.keys()]) if (k < i || k > i + READ_AHEAD_CHUNKS) this.loads.delete(k);
    for (let j = i + 1; j <= i + READ_AHEAD_CHUNKS && j < this.m.chunkCount; j++) {
      if (this.m.digests[j] && !this.recent.has(j)) this.chunkPromise(j);
    }
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
    let verified = false;
    if (value && value.length === chunkLength(m, i)) {
      const hashed = await sha256Chunk(value);
      value = hashed.bytes;
      verified = hashed.digest === expected;
    }
    if (value && verified) {
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
    const answer = await this.net.request(start, start + len);
    if (answer.total !== m.size || !sameVersion(m, answer)) {
      await answer.body.cancel().catch(() => {});
      await deleteEntry(this.name);
      throw new CorruptCacheError(this.name, `chunk ${i} of the cached copy was bad, and the file changed on the server meanwhile; ` +
        'the cached copy was dropped — load the model again');
    }
    const { digest, bytes } = await sha256Chunk(await this.net.readBody(answer, len));
    if (digest !== expected) {
      await deleteEntry(this.name);
      throw new CorruptCacheError(this.name, `chunk ${i} of the cached copy was bad and the server's bytes for it do not match ` +
        'the digest recorded when it was cached, so it cannot be repaired; the cached copy was dropped — load the model again');
    }
    await this.store(i, bytes, digest);
    return bytes;
  }

  // ---- downloading -----------------------------------------------------------------------------------

  /**
   * The answer for a missing run of chunks, or undefined when the server's file is no longer the one
   * partly cached (then nothing of it is used). Size and validators tell where the server sends them; a
   * server that sends neither ETag nor Last-Modified could replace the file with one of the same size, so
   * there the request starts RESUME_OVERLAP_BYTES early and those bytes must equal the stored chunk's end
   * (read back and verified against its digest) — a resume never joins two versions.
   */
  private async resume(m: Manifest, run: { first: number; start: number; end: number }): Promise<RangeAnswer | undefined> {
    const overlap = m.etag === null && m.lastModified === null && run.first > 0 && m.digests[run.first - 1] !== null ? RESUME_OVERLAP_BYTES : 0;
    const answer = await this.net.request(run.start - overlap, run.end);
    if (answer.total !== m.size || !sameVersion(m, answer)) {
      await answer.body.cancel().catch(() => {});
      return undefined;
    }
    if (!overlap) return answer;
    const { head, rest } = await splitAnswer(answer, overlap);
    const stored = (await this.chunk(run.first - 1)).subarray(-overlap);
    if (head.length < overlap || head.some((b, i) => b !== stored[i])) {
      await rest.body.cancel().catch(() => {});
      return undefined;
    }
    return rest;
  }

  private async downloadLoop(first: RangeAnswer): Promise<void> {
    let answer: RangeAnswer | undefined = first;
    let failures = 0;
    for (;;) {
      const run = missingRun(this.m);
      if (!run) break;
      let stored = 0;
      try {
        answer ??= await this.resume(this.m, run);
        if (!answer) {
          await deleteEntry(this.name);
          throw new CorruptCacheError(this.name, 'the file changed on the server while it was being downloaded; the partial cached copy ' +
            'was dropped — load the model again');
        }
        const a = answer;
        answer = undefined;
        await this.net.receive(a, this.m, run.first, {
          chunk: (i, bytes) => {
            this.heldBytes += bytes.length;
            return this.hashAndStore(i, bytes).then(() => void stored++);
          },
          progress: (partial) => this.emitDownload(false, partial),
        });
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

  private async hashAndStore(i: number, received: Uint8Array): Promise<void> {
    const { digest, bytes } = await sha256Chunk(received);
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


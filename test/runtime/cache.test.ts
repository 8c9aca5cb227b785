/**
 * The IndexedDB weight cache (src/runtime/cache), in Node on fake-indexeddb, against a local node:http
 * server on 127.0.0.1 that serves Range requests and injects faults: it cuts connections at a given byte,
 * answers errors, and counts requests, bytes and concurrent connections. References: the served bytes
 * themselves, and SHA-256 digests computed with node:crypto (independent of the WebCrypto code under test).
 */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get as idbGet, keys as idbKeys, set as idbSet } from 'idb-keyval';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { InpageError } from '../../src/errors';
import { openGguf, readTensorChunks } from '../../src/formats/gguf';
import {
  cache, CachedUrlSource, CorruptCacheError, Limiter, openModelSource, QuotaExceededError, type CacheProgressEvent, type OpenCachedOptions,
} from '../../src/runtime/cache';
import { READ_AHEAD_CHUNKS, RESUME_OVERLAP_BYTES } from '../../src/runtime/cache/cached_source';
import { loadEngine } from '../../src/runtime/engine_load';
import { chunkKey, manifestKey, weightStore, type Manifest } from '../../src/runtime/cache/store';
import { concurrency, FaultServer, type Served } from '../fault_server';
import { randomBytes } from '../random';
import { testGpu } from '../gpu';
import { gv, makeSyntheticModel } from '../reference/gguf_writer';

const CHUNK = 64 * 1024;

const srv = new FaultServer();
const { ctl, files } = srv;
let base = '';

/** Byte equality without vitest's element-wise diff (slow on large arrays); names the first difference. */
function expectBytes(got: Uint8Array, want: Uint8Array): void {
  expect(got.length).toBe(want.length);
  if (Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length))) return;
  const at = got.findIndex((v, i) => v !== want[i]);
  expect.fail(`bytes differ first at ${at}: ${got[at]} vs ${want[at]}`);
}

beforeAll(async () => {
  await srv.start();
  base = srv.base;
});

afterAll(() => srv.close());

beforeEach(async () => {
  srv.reset();
  await cache.clear();
});

const open = (path: string, opts: OpenCachedOptions = {}) =>
  CachedUrlSource.open(`${base}${path}`, { chunkBytes: CHUNK, retryDelayMs: 5, storage: null, ...opts });

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readAll(s: CachedUrlSource, step = 50_000): Promise<Uint8Array> {
  const out = new Uint8Array(s.size);
  for (let at = 0; at < s.size; at += step) out.set(await s.read(at, Math.min(s.size, at + step)), at);
  return out;
}

async function manifestOf(path: string): Promise<Manifest> {
  return (await idbGet(manifestKey(`${base}${path}`), weightStore())) as Manifest;
}

/** A chunk record's bytes, read straight from IndexedDB (records are Blobs). */
async function record(m: Manifest, index: number): Promise<Uint8Array<ArrayBuffer>> {
  const v = (await idbGet(chunkKey(m, index), weightStore())) as Blob;
  expect(v).toBeInstanceOf(Blob);
  return new Uint8Array(await v.arrayBuffer());
}

const weightRequests = (path: string) => srv.log.filter((r) => r.path === path);

describe('chunking and digests', () => {
  it('stores the file as chunk records whose SHA-256 digests are in the manifest, with one request', async () => {
    const bytes = randomBytes(5 * CHUNK + 1234, 1);
    files.set('/a.bin', { bytes, etag: '"v1"' });
    const s = await open('/a.bin');
    await s.whenComplete();
    expect(s.size).toBe(bytes.length);
    expect(weightRequests('/a.bin').map((r) => r.range)).toEqual(['bytes=0-']);
    expect(srv.bytesSent).toBe(bytes.length);

    const m = await manifestOf('/a.bin');
    expect(m).toMatchObject({ size: bytes.length, etag: '"v1"', chunkBytes: CHUNK, chunkCount: 6, complete: true });
    for (let i = 0; i < 6; i++) {
      const rec = await record(m, i);
      const want = bytes.subarray(i * CHUNK, Math.min(bytes.length, (i + 1) * CHUNK));
      expectBytes(rec, want);
      expect(m.digests[i]).toBe(sha256(want));
    }
    // Ranges within and across chunks read back exactly.
    for (const [a, b] of [[0, 10], [CHUNK - 3, CHUNK + 5], [100, 4 * CHUNK + 17], [bytes.length - 7, bytes.length], [42, 42]] as const) {
      expectBytes(await s.read(a, b), bytes.subarray(a, b));
    }
    s.close();
  });

  it('a cached file opens and reads with no request, verifying each chunk, holding few chunks in memory', async () => {
    const bytes = randomBytes(12 * CHUNK + 99, 2);
    files.set('/b.bin', { bytes });
    const first = await open('/b.bin');
    await first.whenComplete();
    first.close();
    srv.resetCounters();

    const events: CacheProgressEvent[] = [];
    const s = await open('/b.bin', { onProgress: (e) => events.push(e) });
    let most = 0;
    const out = new Uint8Array(s.size);
    for (let at = 0; at < s.size; at += 10_000) {
      out.set(await s.read(at, Math.min(s.size, at + 10_000)), at);
      most = Math.max(most, s.residentChunks);
    }
    expectBytes(out, bytes);
    expect(srv.log).toEqual([]);
    expect(s.stats).toMatchObject({ hit: true, requests: 0, networkBytes: 0, chunksRead: 13, repairs: 0 });
    expect(most).toBeLessThanOrEqual(1 + READ_AHEAD_CHUNKS); // the chunk being read and those read ahead
    expect(most).toBeGreaterThan(1); // loads run ahead of the reader
    const last = events[events.length - 1]!;
    expect(last).toMatchObject({ phase: 'cache-read', loadedBytes: bytes.length, totalBytes: bytes.length });
    expect(events.every((e) => e.phase === 'cache-read' && e.rate >= 0)).toBe(true);
    s.close();
  });

  it('openGguf and readTensorChunks work unchanged on a cached source', async () => {
    const bytes = new Uint8Array(readFileSync(new URL('../../public/models/fortunes-1.8m-q4_0.gguf', import.meta.url)));
    files.set('/m.gguf', { bytes });
    for (const pass of ['download', 'cached']) {
      const s = await open('/m.gguf', { chunkBytes: 128 * 1024 });
      const file = await openGguf({ reader: s });
      expect(file).toEqual(await openGguf({ bytes }));
      for (const t of file.tensors) {
        let at = t.offset;
        for await (const c of readTensorChunks({ reader: s }, t, 40_000)) {
          expectBytes(c, bytes.subarray(at, at + c.length));
          expect(c.length).toBeLessThanOrEqual(40_000);
          // Pieces end where cache chunks end, and are views of the chunk's own memory (no copy).
          expect(Math.floor(at / s.blockBytes)).toBe(Math.floor((at + c.length - 1) / s.blockBytes));
          expect(c.byteOffset).toBe(at % s.blockBytes);
          at += c.length;
        }
        expect(at).toBe(t.offset + t.byteLength);
      }
      await s.whenComplete();
      expect(s.stats.hit, pass).toBe(pass === 'cached');
      s.close();
    }
    expect(weightRequests('/m.gguf')).toHaveLength(1);
  });

  it('download progress carries bytes, total, rate and ETA', async () => {
    const bytes = randomBytes(8 * CHUNK, 3);
    files.set('/p.bin', { bytes });
    ctl.delayMs = 5;
    const events: CacheProgressEvent[] = [];
    const s = await open('/p.bin', { onProgress: (e) => events.push(e) });
    await s.whenComplete();
    s.close();
    expect(events.length).toBeGreaterThan(1);
    expect(events.every((e) => e.phase === 'download' && e.totalBytes === bytes.length && e.loadedBytes <= bytes.length)).toBe(true);
    const last = events[events.length - 1]!;
    expect(last.loadedBytes).toBe(bytes.length);
    expect(last.etaSeconds).toBe(0);
    expect(events.some((e) => e.rate > 0 && e.etaSeconds !== undefined && e.etaSeconds > 0)).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i]!.loadedBytes).toBeGreaterThanOrEqual(events[i - 1]!.loadedBytes);
  });
});

describe('interrupted downloads', () => {
  it('resumes from the last complete chunk in a later session after a cut (re-fetching less than one chunk)', async () => {
    const bytes = randomBytes(7 * CHUNK + 500, 4);
    files.set('/r.bin', { bytes, etag: '"r1"' });
    const cutAt = 3 * CHUNK + 20_000;
    ctl.cutAt = cutAt;
    ctl.cutEvery = undefined;
    const s1 = await open('/r.bin', { retries: 0 });
    const err = await s1.whenComplete().catch((e: unknown) => e);
    s1.close();
    expect((err as InpageError).code).toBe('NetworkError');
    expect((err as Error).message).toMatch(/after 0 retries/);
    const m = await manifestOf('/r.bin');
    expect(m.digests.map((d) => d !== null)).toEqual([true, true, true, false, false, false, false, false]);
    expect((await cache.list())[0]).toMatchObject({ storedBytes: 3 * CHUNK, complete: false, size: bytes.length });

    const sentBefore = srv.bytesSent;
    srv.resetCounters();
    const s2 = await open('/r.bin');
    expectBytes(await readAll(s2), bytes);
    await s2.whenComplete();
    s2.close();
    expect(srv.log.map((r) => r.range)).toEqual([`bytes=${3 * CHUNK}-${bytes.length - 1}`]);
    expect(sentBefore).toBe(cutAt);
    const refetched = sentBefore + srv.bytesSent - bytes.length;
    expect(refetched).toBe(cutAt - 3 * CHUNK);
    expect(refetched).toBeLessThanOrEqual(CHUNK);
    expect((await manifestOf('/r.bin')).complete).toBe(true);
  });

  it('while downloading, reads are served as chunks arrive, with a bounded number of chunks in memory', async () => {
    const bytes = randomBytes(16 * CHUNK + 3, 21);
    files.set('/mem.bin', { bytes });
    ctl.delayMs = 1;
    const s = await open('/mem.bin');
    let most = 0;
    const out = new Uint8Array(s.size);
    for (let at = 0; at < s.size; at += 30_000) {
      out.set(await s.read(at, Math.min(s.size, at + 30_000)), at);
      most = Math.max(most, s.residentChunks);
      await new Promise((r) => setTimeout(r, 2)); // a slower consumer than the network (GPU upload)
    }
    await s.whenComplete();
    s.close();
    expectBytes(out, bytes);
    expect(most).toBeLessThanOrEqual(6);
    expect(srv.log).toHaveLength(1);
  });

  it('retries a cut within the same load, from the last complete chunk', async () => {
    const bytes = randomBytes(6 * CHUNK, 5);
    files.set('/c.bin', { bytes, etag: '"c"' }); // a validator: the resume needs no overlap (below)
    ctl.cutAt = 2 * CHUNK + 5;
    const s = await open('/c.bin');
    const got = readAll(s);
    await s.whenComplete();
    expectBytes(await got, bytes);
    s.close();
    expect(srv.log.map((r) => r.range)).toEqual(['bytes=0-', `bytes=${2 * CHUNK}-${bytes.length - 1}`]);
    expect(srv.bytesSent - bytes.length).toBe(5);
  });

  it('retries transient HTTP errors with growing backoff, then succeeds', async () => {
    const bytes = randomBytes(2 * CHUNK, 6);
    files.set('/t.bin', { bytes });
    ctl.failNext = 3;
    const s = await open('/t.bin', { retryDelayMs: 40 });
    await s.whenComplete();
    expectBytes(await readAll(s), bytes);
    s.close();
    expect(srv.log.map((r) => r.status)).toEqual([503, 503, 503, 206]);
    const gaps = srv.log.slice(1).map((r, i) => r.at - srv.log[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(40 * 0.75 - 2);
    expect(gaps[2]).toBeGreaterThan(gaps[0]!); // 40, 80, 160 ms (±25%)
  });

  it('gives up with NetworkError after the retries; a permanent error is not retried', async () => {
    files.set('/f.bin', { bytes: randomBytes(CHUNK, 7) });
    ctl.failNext = 100;
    let err = await open('/f.bin', { retries: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InpageError);
    expect((err as InpageError).code).toBe('NetworkError');
    expect((err as Error).message).toMatch(/after 2 retries.*503/);
    expect(srv.log).toHaveLength(3);

    ctl.failNext = 0;
    srv.resetCounters();
    err = await open('/missing.bin').catch((e: unknown) => e);
    expect((err as InpageError).code).toBe('NetworkError');
    expect((err as Error).message).toMatch(/404/);
    expect(srv.log).toHaveLength(1);
    expect(await cache.list()).toEqual([]);
  });

  it('a network that keeps cutting still finishes while each attempt completes a chunk', async () => {
    const bytes = randomBytes(5 * CHUNK + 10, 8);
    files.set('/k.bin', { bytes, lastModified: 'Mon, 07 Dec 2026 10:00:00 GMT' });
    ctl.cutEvery = CHUNK + 1000; // every response dies just after one full chunk
    const s = await open('/k.bin', { retries: 1 });
    await s.whenComplete();
    expectBytes(await readAll(s), bytes);
    s.close();
    // Each response dies just after one full chunk; the last range is short enough to arrive whole.
    expect(srv.log.map((r) => Number(/bytes=(\d+)/.exec(r.range)![1]))).toEqual([0, 1, 2, 3, 4].map((i) => i * CHUNK));
  });
});

describe('corruption', () => {
  async function cached(path: string, bytes: Uint8Array, extra: Partial<Served> = {}): Promise<Manifest> {
    files.set(path, { bytes, ...extra });
    const s = await open(path);
    await s.whenComplete();
    s.close();
    srv.resetCounters();
    return manifestOf(path);
  }

  it('a corrupted chunk is detected, dropped and fetched again (only its range); never returned', async () => {
    const bytes = randomBytes(6 * CHUNK + 77, 9);
    const m = await cached('/x.bin', bytes);
    const bad = await record(m, 2);
    bad[1000] ^= 0xff;
    await idbSet(chunkKey(m, 2), new Blob([bad]), weightStore());

    const s = await open('/x.bin');
    const out = await readAll(s);
    expectBytes(out, bytes);
    expect(s.stats.repairs).toBe(1);
    s.close();
    expect(srv.log.map((r) => r.range)).toEqual([`bytes=${2 * CHUNK}-${3 * CHUNK - 1}`]);
    expect(srv.bytesSent).toBe(CHUNK);
    expectBytes(await record(m, 2), bytes.subarray(2 * CHUNK, 3 * CHUNK));
    expect((await manifestOf('/x.bin')).complete).toBe(true);
  });

  it('partial, missing and wrongly typed records are repaired too', async () => {
    const bytes = randomBytes(4 * CHUNK + 5, 10);
    const m = await cached('/y.bin', bytes);
    await idbSet(chunkKey(m, 0), new Blob([bytes.slice(0, 1000)]), weightStore()); // partial
    await idbSet(chunkKey(m, 1), 'garbage', weightStore());
    await weightStore()('readwrite', (st) => new Promise((resolve) => (st.delete(chunkKey(m, 4)).onsuccess = resolve))); // missing
    const s = await open('/y.bin');
    expectBytes(await readAll(s), bytes);
    expect(s.stats.repairs).toBe(3);
    s.close();
    expect(srv.log.map((r) => r.range).sort()).toEqual([`bytes=0-${CHUNK - 1}`, `bytes=${CHUNK}-${2 * CHUNK - 1}`, `bytes=${4 * CHUNK}-${4 * CHUNK + 4}`].sort());
  });

  it('a chunk that cannot be repaired (recorded digest wrong) is CorruptCache and the entry is dropped', async () => {
    const bytes = randomBytes(3 * CHUNK, 11);
    const m = await cached('/z.bin', bytes);
    m.digests[1] = '0'.repeat(64);
    await idbSet(manifestKey(m.url), m, weightStore());
    const s = await open('/z.bin');
    expect(await s.read(0, 10)).toEqual(bytes.subarray(0, 10));
    const err = await s.read(CHUNK, CHUNK + 10).catch((e: unknown) => e);
    s.close();
    expect(err).toBeInstanceOf(CorruptCacheError);
    expect((err as InpageError).code).toBe('CorruptCache');
    expect(await cache.list()).toEqual([]);
    expect((await idbKeys(weightStore())).length).toBe(0);
  });
});

describe('validators', () => {
  it('without ETag or Last-Modified, a resume re-reads the bytes before it: the same file goes on, a replaced one restarts from byte 0', async () => {
    const v1 = randomBytes(4 * CHUNK, 21);
    files.set('/n.bin', { bytes: v1 });
    ctl.cutAt = 2 * CHUNK + 10;
    const s1 = await open('/n.bin', { retries: 0 });
    await s1.whenComplete().catch(() => {});
    s1.close();
    // Same file: resumed, with RESUME_OVERLAP_BYTES compared against the stored chunk.
    srv.resetCounters();
    const s2 = await open('/n.bin');
    expectBytes(await readAll(s2), v1);
    await s2.whenComplete();
    s2.close();
    expect(srv.log.map((r) => r.range)).toEqual([`bytes=${2 * CHUNK - RESUME_OVERLAP_BYTES}-${4 * CHUNK - 1}`]);

    // Replaced by a file of the same size and no validators (what mixed two versions before).
    await cache.clear();
    files.set('/n.bin', { bytes: v1 });
    ctl.cutAt = 2 * CHUNK + 10;
    const s3 = await open('/n.bin', { retries: 0 });
    await s3.whenComplete().catch(() => {});
    s3.close();
    const v2 = randomBytes(4 * CHUNK, 22);
    files.set('/n.bin', { bytes: v2 });
    srv.resetCounters();
    const s4 = await open('/n.bin');
    expectBytes(await readAll(s4), v2);
    await s4.whenComplete();
    s4.close();
    expect(srv.log.map((r) => r.range)).toEqual([`bytes=${2 * CHUNK - RESUME_OVERLAP_BYTES}-${4 * CHUNK - 1}`, 'bytes=0-']);
    expect((await idbKeys(weightStore())).filter((k) => (k as unknown[])[0] === 'c')).toHaveLength(4);

    // The same within one load: replaced during a retry's backoff → CorruptCache, the entry dropped, never mixed.
    await cache.clear();
    files.set('/n.bin', { bytes: v1 });
    ctl.cutAt = 2 * CHUNK + 10;
    srv.resetCounters();
    ctl.onRequest = (n) => {
      if (n === 2) files.set('/n.bin', { bytes: v2 });
    };
    const s5 = await open('/n.bin', { retries: 2 });
    const e = await s5.whenComplete().catch((x: unknown) => x);
    s5.close();
    expect(e).toBeInstanceOf(CorruptCacheError);
    expect((e as Error).message).toMatch(/changed/);
    expect(srv.log.map((r) => r.range)).toEqual(['bytes=0-', `bytes=${2 * CHUNK - RESUME_OVERLAP_BYTES}-${4 * CHUNK - 1}`]);
    expect(await cache.list()).toEqual([]);
  });

  it('a server that ignores Range (200 with the whole body) is cached from that one response, in chunks', async () => {
    const bytes = randomBytes(5 * CHUNK + 7, 23);
    files.set('/plain.bin', { bytes, noRange: true });
    const s = await open('/plain.bin');
    expectBytes(await readAll(s), bytes);
    await s.whenComplete();
    s.close();
    expect(srv.log.map((r) => r.status)).toEqual([200]);
    const m = await manifestOf('/plain.bin');
    expect(m.digests.map((d, i) => d === sha256(bytes.subarray(i * CHUNK, Math.min(bytes.length, (i + 1) * CHUNK))))).toEqual(m.digests.map(() => true));
    // A later cut resumes by reading on from the start of a new whole-file answer.
    await cache.clear();
    ctl.cutAt = 3 * CHUNK + 9;
    srv.resetCounters();
    const s2 = await open('/plain.bin');
    expectBytes(await readAll(s2), bytes);
    await s2.whenComplete();
    s2.close();
    expect(srv.log.map((r) => r.status)).toEqual([200, 200]);
  });

  it('an HTML page where the file should be (even as 206) is a NetworkError and nothing is cached', async () => {
    files.set('/page.bin', { bytes: new TextEncoder().encode('<!doctype html><title>Sign in</title>'.padEnd(3 * CHUNK, ' ')), contentType: 'text/html; charset=utf-8' });
    const e = await open('/page.bin').catch((x: unknown) => x);
    expect((e as InpageError).code).toBe('NetworkError');
    expect((e as Error).message).toMatch(/HTML/);
    expect(await cache.list()).toEqual([]);
  });

  it('an ETag change invalidates a partial download: it restarts from byte 0 and caches the new file', async () => {
    const v1 = randomBytes(4 * CHUNK, 12);
    const v2 = randomBytes(4 * CHUNK, 13);
    files.set('/e.bin', { bytes: v1, etag: '"1"' });
    ctl.cutAt = 2 * CHUNK + 10;
    const s1 = await open('/e.bin', { retries: 0 });
    await s1.whenComplete().catch(() => {});
    s1.close();
    files.set('/e.bin', { bytes: v2, etag: '"2"' });
    srv.resetCounters();
    const s2 = await open('/e.bin');
    expectBytes(await readAll(s2), v2);
    await s2.whenComplete();
    s2.close();
    expect(srv.log.map((r) => r.range)).toEqual([`bytes=${2 * CHUNK}-${4 * CHUNK - 1}`, 'bytes=0-']);
    expect((await manifestOf('/e.bin')).etag).toBe('"2"');
    // No chunk of the old version is left behind.
    expect((await idbKeys(weightStore())).filter((k) => (k as unknown[])[0] === 'c')).toHaveLength(4);
  });

  it('revalidate: a complete entry is checked with one HEAD; a changed ETag, Last-Modified or size downloads again', async () => {
    const v1 = randomBytes(3 * CHUNK, 14);
    files.set('/h.bin', { bytes: v1, etag: '"a"' });
    await (await open('/h.bin')).whenComplete();

    srv.resetCounters();
    let s = await open('/h.bin', { revalidate: true });
    expect(s.stats.hit).toBe(true);
    expect(srv.log.map((r) => r.method)).toEqual(['HEAD']);
    s.close();

    const v2 = randomBytes(3 * CHUNK, 15);
    files.set('/h.bin', { bytes: v2, etag: '"b"' });
    srv.resetCounters();
    s = await open('/h.bin'); // without revalidate: the cached copy, no request
    expectBytes(await readAll(s), v1);
    expect(srv.log).toEqual([]);
    s.close();
    s = await open('/h.bin', { revalidate: true });
    expectBytes(await readAll(s), v2);
    await s.whenComplete();
    s.close();
    expect(srv.log.map((r) => `${r.method} ${r.range}`)).toEqual(['HEAD ', 'GET bytes=0-']);

    files.set('/h.bin', { bytes: v2.subarray(0, 2 * CHUNK), lastModified: 'Tue, 01 Jan 2030 00:00:00 GMT' });
    srv.resetCounters();
    s = await open('/h.bin', { revalidate: true });
    expect(s.size).toBe(2 * CHUNK);
    await s.whenComplete();
    s.close();

    // Offline (the HEAD fails): the cached copy is used.
    files.delete('/h.bin');
    srv.resetCounters();
    s = await open('/h.bin', { revalidate: true });
    expect(s.stats.hit).toBe(true);
    expectBytes(await readAll(s), v2.subarray(0, 2 * CHUNK));
    s.close();
  });
});

describe('quota', () => {
  it('not enough room is QuotaExceeded with both numbers, before anything is stored; persist() is requested otherwise', async () => {
    const bytes = randomBytes(4 * CHUNK, 16);
    files.set('/q.bin', { bytes });
    let persistCalls = 0;
    const storage = (quota: number, usage: number) => ({
      estimate: async () => ({ quota, usage }),
      persisted: async () => false,
      persist: async () => (persistCalls++, true),
    });
    const err = await open('/q.bin', { storage: storage(1_000_000, 950_000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err).toMatchObject({ code: 'QuotaExceeded', neededBytes: bytes.length, availableBytes: 50_000 });
    expect((err as Error).message).toContain(`${bytes.length} bytes`);
    expect((err as Error).message).toContain('50000 bytes');
    expect((err as Error).message).toMatch(/cache: false/);
    expect(await cache.list()).toEqual([]);
    expect(persistCalls).toBe(0);

    const s = await open('/q.bin', { storage: storage(10_000_000, 0) });
    await s.whenComplete();
    s.close();
    expect(persistCalls).toBe(1);
  });

  it('a resumed download needs room only for what is missing', async () => {
    const bytes = randomBytes(4 * CHUNK, 17);
    files.set('/q2.bin', { bytes });
    ctl.cutAt = 3 * CHUNK + 1;
    await (await open('/q2.bin', { retries: 0 })).whenComplete().catch(() => {});
    const err = await open('/q2.bin', { storage: { estimate: async () => ({ quota: CHUNK - 1, usage: 0 }) } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QuotaExceeded', neededBytes: CHUNK, availableBytes: CHUNK - 1 });
    const s = await open('/q2.bin', { storage: { estimate: async () => ({ quota: CHUNK, usage: 0 }) } });
    await s.whenComplete();
    s.close();
  });
});

describe('cache API', () => {
  it('lists entries with sizes, deletes one, clears all', async () => {
    const a = randomBytes(3 * CHUNK + 1, 18);
    const b = randomBytes(CHUNK / 2, 19);
    files.set('/la.bin', { bytes: a, etag: '"la"' });
    files.set('/lb.bin', { bytes: b });
    for (const p of ['/la.bin', '/lb.bin']) await (await open(p)).whenComplete();
    const list = await cache.list();
    expect(list.map((e) => ({ url: e.url, size: e.size, storedBytes: e.storedBytes, complete: e.complete, chunks: e.chunks }))).toEqual([
      { url: `${base}/la.bin`, size: a.length, storedBytes: a.length, complete: true, chunks: 4 },
      { url: `${base}/lb.bin`, size: b.length, storedBytes: b.length, complete: true, chunks: 1 },
    ]);
    expect(list[0]!.etag).toBe('"la"');
    expect(list[0]!.createdAt).toBeInstanceOf(Date);
    expect((await idbKeys(weightStore())).length).toBe(4 + 1 + 2);

    expect(await cache.delete(`${base}/la.bin`)).toBe(true);
    expect(await cache.delete(`${base}/la.bin`)).toBe(false);
    expect((await cache.list()).map((e) => e.url)).toEqual([`${base}/lb.bin`]);
    expect((await idbKeys(weightStore())).length).toBe(1 + 1);

    await cache.clear();
    expect(await cache.list()).toEqual([]);
    expect(await idbKeys(weightStore())).toEqual([]);
  });

  it('cache.clear() during a download fails that load with CorruptCache rather than serving unstored bytes', async () => {
    files.set('/d.bin', { bytes: randomBytes(6 * CHUNK, 20) });
    ctl.delayMs = 3;
    const s = await open('/d.bin');
    await s.read(0, 10);
    await cache.clear();
    const err = await s.whenComplete().catch((e: unknown) => e);
    s.close();
    expect((err as InpageError).code).toBe('CorruptCache');
  });
});

describe('parallelism', () => {
  it('downloads of several files run at most `limit` at a time, and all finish', async () => {
    const n = 5;
    const all = Array.from({ length: n }, (_, i) => randomBytes(3 * CHUNK, 30 + i));
    all.forEach((bytes, i) => files.set(`/p${i}.bin`, { bytes }));
    ctl.delayMs = 4;
    const limiter = new Limiter(2);
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, limiter.running)), 1);
    const sources = await Promise.all(all.map((_, i) => open(`/p${i}.bin`, { limiter })));
    await Promise.all(sources.map((s) => s.whenComplete()));
    clearInterval(timer);
    for (const [i, s] of sources.entries()) {
      expectBytes(await readAll(s), all[i]!);
      s.close();
    }
    expect(most).toBe(2);
    expect(concurrency(srv.log)).toBe(2);
    expect(limiter.running).toBe(0);
    expect(srv.log).toHaveLength(n);
  });

  it('cache.prefetch downloads several files with the page-wide bound and returns their entries', async () => {
    const all = Array.from({ length: 4 }, (_, i) => randomBytes(2 * CHUNK + i, 60 + i));
    all.forEach((bytes, i) => files.set(`/pf${i}.bin`, { bytes }));
    ctl.delayMs = 4;
    const entries = await Promise.all(all.map((_, i) => cache.prefetch(`${base}/pf${i}.bin`, { chunkBytes: CHUNK, storage: null })));
    expect(entries.map((e) => [e.size, e.complete])).toEqual(all.map((b) => [b.length, true]));
    expect(concurrency(srv.log)).toBe(2);
    srv.resetCounters();
    await cache.prefetch(`${base}/pf0.bin`);
    expect(srv.log).toEqual([]);
  });

  it('the page-wide default bound applies when none is given', async () => {
    const all = Array.from({ length: 4 }, (_, i) => randomBytes(2 * CHUNK, 40 + i));
    all.forEach((bytes, i) => files.set(`/g${i}.bin`, { bytes }));
    ctl.delayMs = 4;
    const sources = await Promise.all(all.map((_, i) => open(`/g${i}.bin`)));
    await Promise.all(sources.map((s) => s.whenComplete()));
    sources.forEach((s) => s.close());
    expect(concurrency(srv.log)).toBe(2);
  });
});

describe('loadModel wiring (openModelSource)', () => {
  it("'auto' caches http(s) URLs; false, bytes and blobs pass through; 'auto' without IndexedDB runs uncached", async () => {
    files.set('/w.bin', { bytes: randomBytes(CHUNK, 50) });
    const url = `${base}/w.bin`;
    const r = await openModelSource({ url }, { chunkBytes: CHUNK, storage: null });
    expect('reader' in r.source && r.cached).toBeTruthy();
    await r.cached!.whenComplete();
    r.cached!.close();
    expect((await openModelSource({ url }, false)).source).toEqual({ url });
    const bytes = new Uint8Array(3);
    expect((await openModelSource({ bytes }, 'auto')).source).toEqual({ bytes });

    const saved = globalThis.indexedDB;
    try {
      (globalThis as { indexedDB?: IDBFactory }).indexedDB = undefined;
      expect((await openModelSource({ url }, 'auto')).source).toEqual({ url });
      expect((await openModelSource({ url }, undefined)).source).toEqual({ url });
      const err = await openModelSource({ url }, true).catch((e: unknown) => e);
      expect((err as InpageError).code).toBe('InvalidArgument');
    } finally {
      globalThis.indexedDB = saved;
    }
  });

  it('a cached file starts loading its first chunks at open, before any read (the header is read first)', async () => {
    files.set('/h.bin', { bytes: randomBytes(6 * CHUNK, 52) });
    const url = `${base}/h.bin`;
    const first = await openModelSource({ url }, { chunkBytes: CHUNK, storage: null });
    await first.cached!.whenComplete();
    first.cached!.close();
    const r = await openModelSource({ url }, { chunkBytes: CHUNK, storage: null });
    await vi.waitFor(() => expect(r.cached!.stats.chunksRead).toBe(1 + READ_AHEAD_CHUNKS));
    expect(r.cached!.stats.requests).toBe(0);
    r.cached!.close();
    // cache.prefetch of a complete entry reads nothing back.
    const before = srv.log.length;
    await cache.prefetch(url, { chunkBytes: CHUNK, storage: null });
    expect(srv.log.length).toBe(before);
  });

  it('a load whose backend cannot be had stops the download its early open started', async () => {
    const bytes = randomBytes(64 * CHUNK, 53);
    files.set('/nb.gguf', { bytes });
    ctl.delayMs = 20; // 4 MiB in 16 KiB writes: several seconds, unless stopped
    // The adapter answers (none) only once the file's download has started: the file is opened while the
    // backend is chosen.
    const noAdapter = { requestAdapter: () => vi.waitFor(() => expect(weightRequests('/nb.gguf')).toHaveLength(1)).then(() => null) } as unknown as GPU;
    const err = await loadEngine({ url: `${base}/nb.gguf`, cache: { chunkBytes: CHUNK, storage: null }, backend: 'webgpu', gpu: noAdapter }).catch((e: unknown) => e);
    expect((err as InpageError).code).toBe('BackendUnavailable');
    const request = weightRequests('/nb.gguf');
    expect(request).toHaveLength(1);
    await vi.waitFor(() => expect(request[0]!.end).toBeLessThan(Infinity)); // the server saw the connection close
    expect(srv.bytesSent).toBeLessThan(bytes.length / 2);
  });

  it('a load of something that is no model file leaves no cache entry behind; a valid file refused by the engine keeps its own', async () => {
    files.set('/notes.txt', { bytes: new TextEncoder().encode('just some text, not a model\n'.repeat(5000)) });
    const gpu = await testGpu();
    const err = await loadEngine({ url: `${base}/notes.txt`, cache: { chunkBytes: CHUNK, storage: null }, backend: 'webgpu', gpu }).catch((e: unknown) => e);
    expect((err as InpageError).code).toBe('InvalidModelFile');
    expect(await cache.list()).toEqual([]);
    // A GGUF file whose architecture the engine refuses stays cached (another backend may run it).
    const unsupported = makeSyntheticModel({ architecture: 'llama', extraMetadata: { 'general.architecture': gv.string('gemma') } }).bytes;
    files.set('/gemma.gguf', { bytes: unsupported });
    const refused = await loadEngine({ url: `${base}/gemma.gguf`, cache: { chunkBytes: CHUNK, storage: null }, backend: 'webgpu', gpu }).catch((e: unknown) => e);
    expect((refused as InpageError).code).toBe('BackendUnavailable'); // webgpu was asked for by name
    expect((refused as Error).message).toMatch(/gemma/);
    expect((await cache.list()).map((e) => e.url)).toEqual([`${base}/gemma.gguf`]);
  });

  it('the quota error reaches loadModel through the cache options', async () => {
    files.set('/w2.bin', { bytes: randomBytes(2 * CHUNK, 51) });
    const err = await openModelSource({ url: `${base}/w2.bin` }, { storage: { estimate: async () => ({ quota: 10, usage: 0 }) } }).catch((e: unknown) => e);
    expect((err as InpageError).code).toBe('QuotaExceeded');
  });
});


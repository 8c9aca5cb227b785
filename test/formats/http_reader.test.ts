// The uncached URL reader (src/formats/http_reader.ts) against the fault-injecting server
// (test/fault_server.ts): the bytes it returns are compared with the served bytes themselves.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InpageError } from '../../src/errors';
import { HEAD_BYTES, HttpReader } from '../../src/formats/http_reader';
import { FaultServer } from '../fault_server';
import { randomBytes } from '../random';

const srv = new FaultServer();
const { ctl, files } = srv;
const SIZE = HEAD_BYTES + 3 * 65536 + 123;

beforeAll(() => srv.start());
afterAll(() => srv.close());
beforeEach(() => srv.reset());

const open = (path: string, o: Parameters<typeof HttpReader.open>[1] = {}) => HttpReader.open({ url: `${srv.base}${path}` }, { retryDelayMs: 5, ...o });
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

/** Reads [from, to) in pieces, as the loader streams a tensor. */
async function readPieces(r: HttpReader, from: number, to: number, piece = 40_000): Promise<Uint8Array> {
  const out = new Uint8Array(to - from);
  for (let at = from; at < to; at += piece) out.set(await r.read(at, Math.min(to, at + piece)), at - from);
  return out;
}

async function failure(p: Promise<unknown>): Promise<InpageError> {
  try {
    await p;
  } catch (e) {
    return e as InpageError;
  }
  throw new Error('expected a rejection');
}

describe('HttpReader', () => {
  it('reads ranges: the head from the first request, then sequential reads on one open-ended request', async () => {
    const bytes = randomBytes(SIZE, 1);
    files.set('/m.bin', { bytes, etag: '"1"' });
    const r = await open('/m.bin');
    expect(r.size).toBe(SIZE);
    expect(same(await r.read(100, 5000), bytes.subarray(100, 5000))).toBe(true);
    expect(srv.log.map((l) => l.range)).toEqual([`bytes=0-${HEAD_BYTES - 1}`]);
    expect(same(await readPieces(r, HEAD_BYTES, SIZE), bytes.subarray(HEAD_BYTES))).toBe(true);
    expect(srv.log.map((l) => l.range)).toEqual([`bytes=0-${HEAD_BYTES - 1}`, `bytes=${HEAD_BYTES}-`]);
    // Behind the cursor: a new request.
    expect(same(await r.read(HEAD_BYTES + 10, HEAD_BYTES + 20), bytes.subarray(HEAD_BYTES + 10, HEAD_BYTES + 20))).toBe(true);
    expect(srv.log).toHaveLength(3);
    r.close();
  });

  it('a small file is held whole by the first request', async () => {
    const bytes = randomBytes(70_000, 2);
    files.set('/s.bin', { bytes });
    const r = await open('/s.bin');
    expect(same(await r.read(0, 70_000), bytes)).toBe(true);
    expect(srv.log).toHaveLength(1);
  });

  it('a cut connection is resumed where it stopped; transient HTTP errors are retried', async () => {
    const bytes = randomBytes(SIZE, 3);
    files.set('/c.bin', { bytes });
    const r = await open('/c.bin');
    ctl.cutAt = HEAD_BYTES + 70_000;
    expect(same(await readPieces(r, HEAD_BYTES, SIZE), bytes.subarray(HEAD_BYTES))).toBe(true);
    expect(srv.log.map((l) => l.range)).toEqual([`bytes=0-${HEAD_BYTES - 1}`, `bytes=${HEAD_BYTES}-`, `bytes=${HEAD_BYTES + 70_000}-`]);
    ctl.failNext = 2;
    expect(same(await r.read(1000 + HEAD_BYTES, 2000 + HEAD_BYTES), bytes.subarray(1000 + HEAD_BYTES, 2000 + HEAD_BYTES))).toBe(true);
    expect(srv.log.slice(-3).map((l) => l.status)).toEqual([503, 503, 206]);
    // The opening request is retried too.
    srv.resetCounters();
    ctl.failNext = 1;
    await open('/c.bin');
    expect(srv.log.map((l) => l.status)).toEqual([503, 206]);
    // And given up on after the retries, as a NetworkError.
    ctl.failNext = 10;
    const e = await failure(open('/c.bin', { retries: 2 }));
    expect(e.code).toBe('NetworkError');
    expect(e.message).toMatch(/503/);
  });

  it('a file replaced on the server mid-read is FileChanged, never a mix of versions', async () => {
    for (const [v1, v2] of [
      [{ etag: '"a"' }, { etag: '"b"' }],
      [{ lastModified: 'Mon, 07 Dec 2026 10:00:00 GMT' }, { lastModified: 'Mon, 07 Dec 2026 11:00:00 GMT' }],
      [{}, {}], // no validators: the size tells (v2 is shorter)
    ] as const) {
      files.set('/v.bin', { bytes: randomBytes(SIZE, 4), ...v1 });
      const r = await open('/v.bin');
      files.set('/v.bin', { bytes: randomBytes(SIZE - 1000, 5), ...v2 });
      const e = await failure(readPieces(r, HEAD_BYTES, SIZE - 2000));
      expect([e.name, e.code]).toEqual(['ModelFileError', 'FileChanged']);
      expect(e.message).toMatch(/changed on the server/);
    }
  });

  it('a server without Range support is read front to back from its 200 answers', async () => {
    const bytes = randomBytes(SIZE, 6);
    files.set('/p.bin', { bytes, noRange: true });
    const r = await open('/p.bin');
    expect(r.wholeOnly).toBe(true);
    expect(same(await readPieces(r, 0, SIZE, 50_000), bytes)).toBe(true);
    expect(srv.log.map((l) => l.status)).toEqual([200]);
    // Going back means reading from the start again; a cut too.
    ctl.cutAt = HEAD_BYTES + 100_000;
    const [a, b] = [HEAD_BYTES + 1000, HEAD_BYTES + 150_000];
    expect(same(await r.read(a, b), bytes.subarray(a, b))).toBe(true);
    expect(srv.log.map((l) => l.status)).toEqual([200, 200, 200]);
  });

  it('an HTML page is a NetworkError naming it; a 404 is not retried', async () => {
    files.set('/h.bin', { bytes: new TextEncoder().encode('<!doctype html>'.padEnd(5000)), contentType: 'text/html' });
    const e = await failure(open('/h.bin'));
    expect(e.code).toBe('NetworkError');
    expect(e.message).toMatch(/HTML/);
    srv.resetCounters();
    expect((await failure(open('/missing.bin'))).message).toMatch(/404/);
    expect(srv.log).toHaveLength(1);
  });

  it('an abort takes effect during a slow transfer, as AbortError', async () => {
    const bytes = randomBytes(SIZE, 7);
    files.set('/slow.bin', { bytes });
    const ac = new AbortController();
    const r = await open('/slow.bin', { signal: ac.signal });
    ctl.delayMs = 50; // 16 KiB per 50 ms
    const reading = readPieces(r, HEAD_BYTES, SIZE, 1 << 20);
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    const e = await failure(reading);
    expect([e.name, e.code]).toEqual(['AbortError', 'Aborted']);
    expect(performance.now() - t0).toBeLessThan(1000);
    // An abort before the first request is typed too.
    const pre = new AbortController();
    pre.abort();
    expect((await failure(open('/slow.bin', { signal: pre.signal }))).code).toBe('Aborted');
  });
});

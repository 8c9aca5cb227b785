/**
 * The cache's SHA-256 helper (src/runtime/cache/digest.ts). Reference: node:crypto's SHA-256 of the same
 * bytes. In Node there is no Worker, so these tests install a fake one (the browser path): it answers like
 * the real inline helper, and really transfers buffers (structuredClone with transfer), so a buffer handed
 * to a helper that never answers would be visibly lost (detached).
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from '../random';

const reference = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface FakeOptions {
  /** The helper fails to start (as under a CSP that forbids blob: workers): an error event, no answer. */
  broken?: boolean;
}

/** Messages carrying a buffer that reached a fake helper, over all fakes of a test. */
let buffersSent = 0;

function installFakeWorker(o: FakeOptions = {}): void {
  class FakeWorker {
    onmessage: ((e: { data: unknown }) => void) | null = null;
    onerror: ((e: { message: string; preventDefault(): void }) => void) | null = null;
    terminated = false;
    constructor(url: string) {
      expect(url.startsWith('blob:')).toBe(true);
      if (o.broken) setTimeout(() => this.onerror?.({ message: 'refused by the Content-Security-Policy', preventDefault() {} }), 1);
    }
    postMessage(data: { id: number; buffer?: ArrayBuffer }, transfer: Transferable[] = []): void {
      const moved = structuredClone(data, { transfer }); // detaches the sender's buffer, as a real postMessage does
      if (moved.buffer) buffersSent++;
      if (o.broken) return;
      setTimeout(() => {
        if (this.terminated) return;
        if (!moved.buffer) return this.onmessage?.({ data: { id: moved.id } });
        const digest = new Uint8Array(createHash('sha256').update(new Uint8Array(moved.buffer)).digest()).buffer;
        this.onmessage?.({ data: structuredClone({ id: moved.id, digest, buffer: moved.buffer }, { transfer: [moved.buffer] }) });
      }, 1);
    }
    terminate(): void {
      this.terminated = true;
    }
  }
  vi.stubGlobal('Worker', FakeWorker);
}

async function freshDigestModule() {
  vi.resetModules();
  return import('../../src/runtime/cache/digest');
}

afterEach(() => {
  vi.unstubAllGlobals();
  buffersSent = 0;
});

describe('SHA-256 of cache chunks', () => {
  it('without workers (Node) hashes in this thread and leaves the bytes usable', async () => {
    const { sha256Chunk, sha256Hex } = await freshDigestModule();
    const bytes = randomBytes(100_003, 1);
    const r = await sha256Chunk(bytes);
    expect(r.digest).toBe(reference(bytes));
    expect(r.bytes).toBe(bytes);
    expect(await sha256Hex(bytes.subarray(5, 77))).toBe(reference(bytes.subarray(5, 77)));
  });

  it('startDigestHelper starts the helper ahead of the first chunk, which then goes to it', async () => {
    installFakeWorker();
    const { sha256Chunk, startDigestHelper } = await freshDigestModule();
    startDigestHelper();
    await new Promise((r) => setTimeout(r, 5)); // the helper answers its first message
    const bytes = randomBytes(65_536, 30);
    const copy = bytes.slice();
    const r = await sha256Chunk(bytes);
    expect(r.digest).toBe(reference(copy));
    expect(buffersSent).toBe(1);
    expect(bytes.byteLength).toBe(0); // moved to the helper and back: the returned view holds the bytes
    expect(r.bytes).toEqual(copy);
  });

  it('with a helper worker: hashes there once it has answered, moving the buffer there and back', async () => {
    installFakeWorker();
    const { sha256Chunk } = await freshDigestModule();
    const chunks = Array.from({ length: 6 }, (_, i) => randomBytes(65_536 + i, 10 + i));
    const copies = chunks.map((c) => c.slice());
    // The first chunk goes before the helper has answered: hashed in this thread, nothing sent.
    const first = await sha256Chunk(chunks[0]!);
    expect(first.digest).toBe(reference(copies[0]!));
    expect(buffersSent).toBe(0);
    await new Promise((r) => setTimeout(r, 5)); // the helper answers its first message
    const rest = await Promise.all(chunks.slice(1).map((c) => sha256Chunk(c)));
    expect(buffersSent).toBe(5);
    rest.forEach((r, k) => {
      expect(r.digest).toBe(reference(copies[k + 1]!));
      expect(r.bytes).toEqual(copies[k + 1]); // the same bytes, back from the helper
      expect(chunks[k + 1]!.byteLength).toBe(0); // the caller's view was transferred (no copy)
    });
    // A view on part of a buffer cannot be transferred: hashed here, still usable.
    const whole = randomBytes(4096, 99);
    const part = whole.subarray(10, 2000);
    const r = await sha256Chunk(part);
    expect(r.digest).toBe(reference(whole.subarray(10, 2000)));
    expect(part.byteLength).toBe(1990);
    expect(buffersSent).toBe(5);
  });

  it('a helper that fails to start (CSP forbids blob: workers) loses no buffer: every chunk is hashed here', async () => {
    installFakeWorker({ broken: true });
    const { sha256Chunk } = await freshDigestModule();
    for (let i = 0; i < 5; i++) {
      const bytes = randomBytes(10_000, 40 + i);
      const copy = bytes.slice();
      const r = await sha256Chunk(bytes);
      expect(r.digest).toBe(reference(copy));
      expect(bytes.byteLength).toBe(10_000); // never transferred
      await new Promise((res) => setTimeout(res, 3));
    }
    expect(buffersSent).toBe(0);
  });
});

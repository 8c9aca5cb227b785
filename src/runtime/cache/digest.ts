/**
 * SHA-256 of a chunk with WebCrypto (crypto.subtle: browsers in secure contexts, workers, Node ≥ 19), on a
 * helper worker where the platform has workers.
 *
 * Why a worker: Chromium computes crypto.subtle.digest on the calling thread, and the same thread also takes
 * in the bytes of the next chunk being read back from IndexedDB (Blob → ArrayBuffer) or streamed from the
 * network. Hashing there leaves the reads waiting: a cached read of 9 chunks (69 MiB) with 4 in flight took
 * 150–190 ms with in-thread hashing, 140–158 ms with the hashing on a helper thread, against 75–90 ms for
 * the reads alone (Chromium, 2 cores; see bench/results/cache.md). The chunk's buffer is transferred to the
 * helper and back, never copied.
 *
 * The helper is a tiny inline script started from a blob: URL. A page whose Content-Security-Policy forbids
 * blob: workers (or a platform without workers: Node) gets in-thread hashing: a chunk is handed to the helper
 * only after it has answered a first message, so no buffer is ever lost to a helper that failed to start.
 * The helper stops after a few idle seconds.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A chunk's digest, and its bytes (the same memory, back from the helper; the caller's view is detached). */
export interface HashedChunk {
  digest: string;
  bytes: Uint8Array;
}

/** Hashes `bytes`. Where the helper runs, `bytes`' buffer moves to it and back: use the returned `bytes`. */
export async function sha256Chunk(bytes: Uint8Array): Promise<HashedChunk> {
  const helper = await helperIfReady();
  if (helper && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return helper.hash(bytes);
  }
  return { digest: await sha256Hex(bytes), bytes };
}

/**
 * Starts the helper ahead of the first chunk (a cached source calls it as it opens): chunks that arrive while
 * it starts are hashed in the calling thread, which also has the header to parse. Traced cached reloads in
 * Chromium had the helper answering 4–19 ms after the open, before the first chunk was read back (20–55 ms).
 */
export function startDigestHelper(): void {
  void helperIfReady();
}

/** SHA-256 (hex) in this thread; `bytes` stay usable. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

function hex(digest: ArrayBuffer): string {
  let out = '';
  for (const b of new Uint8Array(digest)) out += HEX[b];
  return out;
}

// ---- the helper worker -----------------------------------------------------------------------------------

const HELPER_SOURCE = `onmessage = async (e) => {
  const { id, buffer } = e.data;
  if (!buffer) return postMessage({ id });
  try {
    const digest = await crypto.subtle.digest('SHA-256', buffer);
    postMessage({ id, digest, buffer }, [buffer]);
  } catch (err) {
    postMessage({ id, error: String(err), buffer }, [buffer]);
  }
};`;

/** The helper's worker name (tests tell it from the engine's worker by it). */
export const DIGEST_HELPER_NAME = 'inpage-sha256';

/** Stop the helper after this long with nothing to hash. */
const IDLE_MS = 5000;

interface Reply {
  id: number;
  digest?: ArrayBuffer;
  buffer?: ArrayBuffer;
  error?: string;
}

class DigestHelper {
  private readonly worker: Worker;
  private readonly url: string;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  private idle?: ReturnType<typeof setTimeout>;
  /** Resolves true once the helper has answered; false if it could not start. */
  readonly ready: Promise<boolean>;

  constructor(private readonly onGone: () => void) {
    this.url = URL.createObjectURL(new Blob([HELPER_SOURCE], { type: 'text/javascript' }));
    this.worker = new Worker(this.url, { name: DIGEST_HELPER_NAME });
    let started = false;
    this.ready = new Promise<boolean>((resolve) => {
      this.worker.onmessage = (e: MessageEvent<Reply>) => {
        started = true;
        const w = this.waiting.get(e.data.id);
        this.waiting.delete(e.data.id);
        w?.resolve(e.data);
        if (e.data.id === 0) resolve(true);
      };
      this.worker.onerror = (e) => {
        e.preventDefault?.();
        this.stop();
        this.onGone();
        const why = new Error(`the SHA-256 helper worker failed${e.message ? `: ${e.message}` : ''}`);
        for (const w of this.waiting.values()) w.reject(why);
        this.waiting.clear();
        if (!started) resolve(false);
      };
    });
    this.worker.postMessage({ id: 0 });
    this.armIdle();
  }

  async hash(bytes: Uint8Array): Promise<HashedChunk> {
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, buffer: bytes.buffer }, [bytes.buffer as ArrayBuffer]);
      this.armIdle();
    });
    const back = new Uint8Array(reply.buffer!);
    if (reply.error !== undefined) throw new Error(`SHA-256 failed: ${reply.error}`);
    return { digest: hex(reply.digest!), bytes: back };
  }

  private armIdle(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.waiting.size > 0) return this.armIdle();
      this.stop();
      this.onGone();
    }, IDLE_MS);
  }

  private stop(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.worker.terminate();
    URL.revokeObjectURL(this.url);
  }
}

let helper: DigestHelper | undefined;
/** Set once a helper failed to start (e.g. the page's CSP forbids blob: workers): hash in-thread from then on. */
let helperUnavailable = typeof Worker === 'undefined' || typeof URL.createObjectURL !== 'function';

/** The running helper once it has answered; undefined (hash in-thread) while it starts or where it can't. */
async function helperIfReady(): Promise<DigestHelper | undefined> {
  if (helperUnavailable) return undefined;
  if (!helper) {
    try {
      const h = new DigestHelper(() => {
        if (helper === h) helper = undefined;
      });
      helper = h;
      void h.ready.then((ok) => {
        if (!ok) helperUnavailable = true;
      });
    } catch {
      helperUnavailable = true;
      return undefined;
    }
  }
  const h = helper;
  // Until the helper has answered, hash in this thread rather than wait (it starts in a few ms).
  const started = await Promise.race([h.ready, Promise.resolve(undefined)]);
  return started ? h : undefined;
}

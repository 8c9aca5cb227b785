/**
 * Finding and starting the worker script (dist/inpage.worker.js, a self-contained ES module), in order:
 *  1. `workerUrl` (the script itself) or `baseUrl` (the folder holding it), when the page says where;
 *  2. next to this module, by `new Worker(new URL(<file>, import.meta.url))`. It is written literally, so
 *     that bundlers consuming dist/inpage.js (Vite, webpack) see the `new Worker(new URL(…))` pattern,
 *     emit the worker and rewrite its URL, and the demo's Vite build (from src/) bundles inpage.worker.ts.
 *     In the script-tag build there is no import.meta: vite.config.ts replaces `import.meta.url` in this
 *     file with the script's `src`, captured while the script runs (document.currentScript is null later).
 * A script on another origin (a CDN) cannot be a Worker's URL: it is then started from a same-origin
 * blob: module that imports it (the page's CSP must allow worker-src blob:, and the CDN send CORS headers).
 */
import { InpageError, InvalidArgumentError } from '../errors';
import { READY_MESSAGE } from './protocol';

export const WORKER_FILE = 'inpage.worker.js';
const WORKER_NAME = 'inpage';

/** This module's URL (the script-tag build: its script's src; see above). */
const moduleUrl: string | undefined = import.meta.url;

export interface WorkerLocation {
  /** The worker script's URL. */
  workerUrl?: string | URL;
  /** The folder holding inpage's files; the worker is `${baseUrl}/inpage.worker.js`. */
  baseUrl?: string | URL;
}

/**
 * Whether a load runs in a worker, and why (info.runtimeReason). `stuck` names an option that cannot be
 * sent to a worker (see uncloneableOption in ./client.ts). `worker: true` turns a reason to stay in this
 * thread into an error; the default stays in this thread.
 */
export function chooseWorkerRuntime(worker: boolean | undefined, stuck: string | undefined): { worker: boolean; reason: string } {
  if (worker === false) return { worker: false, reason: 'worker: false' };
  if (stuck !== undefined) {
    if (worker === true) throw new InvalidArgumentError(`the option ${stuck} cannot be sent to a worker (only plain data can); pass worker: false`);
    return { worker: false, reason: `the option ${stuck} cannot be sent to a worker` };
  }
  if (typeof Worker === 'undefined') {
    if (worker === true) throw new InvalidArgumentError('worker: true, but Web Workers are not available here; pass worker: false');
    return { worker: false, reason: 'no Web Workers here' };
  }
  return { worker: true, reason: worker === true ? 'worker: true' : 'the default in browsers' };
}

/** The URL the page's relative URLs resolve against. */
export function pageBase(): string | undefined {
  if (typeof document !== 'undefined' && document.baseURI) return document.baseURI;
  return typeof location !== 'undefined' ? location.href : undefined;
}

/** Where the worker script will be looked for (for messages and tests). */
export function workerUrlFor(where: WorkerLocation = {}): string {
  if (where.workerUrl !== undefined) return new URL(where.workerUrl, pageBase()).href;
  if (where.baseUrl !== undefined) {
    const base = new URL(where.baseUrl, pageBase()); // a folder, with or without its trailing slash
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    return new URL(WORKER_FILE, base).href;
  }
  return new URL(WORKER_FILE, moduleUrl).href;
}

/** Starts the worker and waits for it to say it is ready; fails if the script cannot be loaded or run. */
export async function startWorker(where: WorkerLocation = {}): Promise<Worker> {
  const overridden = where.workerUrl !== undefined || where.baseUrl !== undefined;
  const url = workerUrlFor(where);
  let revoke: string | undefined;
  let worker: Worker;
  try {
    if (overridden) [worker, revoke] = workerAt(url);
    else {
      try {
        worker = bundledWorker();
      } catch (e) {
        // Another origin (this module came from a CDN): same script, through a same-origin blob.
        if ((e as { name?: string }).name !== 'SecurityError') throw e;
        [worker, revoke] = viaBlob(url);
      }
    }
  } catch (e) {
    throw notStarted(url, (e as Error).message ?? String(e), e);
  }
  try {
    await ready(worker, url);
    return worker;
  } catch (e) {
    worker.terminate();
    throw e;
  } finally {
    if (revoke) URL.revokeObjectURL(revoke);
  }
}

/** The default: the worker next to this module, in the form bundlers recognise. */
function bundledWorker(): Worker {
  return new Worker(new URL('./inpage.worker.js', import.meta.url), { type: 'module', name: WORKER_NAME });
}

function workerAt(url: string): [Worker, string | undefined] {
  const origin = typeof location !== 'undefined' ? location.origin : undefined;
  if (new URL(url).origin === origin) return [new Worker(url, { type: 'module', name: WORKER_NAME }), undefined];
  return viaBlob(url);
}

/**
 * A same-origin module worker that imports the script. A dynamic import(), not a static one: its fetch
 * is governed by the page's script-src (which already allows the CDN the page loads inpage from), where a
 * static import would need the CDN in worker-src too. A failed import is rethrown as an uncaught error, so
 * that the page sees the worker's error event.
 */
function viaBlob(url: string): [Worker, string] {
  const code = `import(${JSON.stringify(url)}).catch((e) => setTimeout(() => { throw e; }));\n`;
  const blobUrl = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  return [new Worker(blobUrl, { type: 'module', name: WORKER_NAME }), blobUrl];
}

function ready(worker: Worker, url: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      worker.removeEventListener('message', onMessage);
      worker.removeEventListener('error', onError);
    };
    const onMessage = (ev: MessageEvent) => {
      if (ev.data && typeof ev.data === 'object' && READY_MESSAGE in ev.data) {
        done();
        resolve();
      }
    };
    const onError = (ev: Event) => {
      done();
      ev.preventDefault();
      const detail = ev instanceof ErrorEvent && ev.message ? ev.message : 'the script could not be fetched or run (missing file, wrong MIME type, Content-Security-Policy, or an error in it)';
      reject(notStarted(url, detail));
    };
    worker.addEventListener('message', onMessage);
    worker.addEventListener('error', onError);
  });
}

function notStarted(url: string, detail: string, cause?: unknown): InpageError {
  return new InpageError(
    'NetworkError',
    `the inpage worker ${url} did not start: ${detail}. Serve ${WORKER_FILE} next to inpage.js / inpage.iife.js, ` +
      `or say where it is with loadModel({ workerUrl }) or { baseUrl }; loadModel({ worker: false }) runs in this thread`,
    { cause },
  );
}

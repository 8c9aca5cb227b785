/**
 * The worker script (built as dist/inpage.worker.js, a self-contained ES module): serves the engine to the
 * page that started it, then says it is ready, so that a page can tell a script that failed to load (404,
 * CSP) from one that is still loading.
 */
import { exposeEngine } from './worker';
import { READY_MESSAGE } from './protocol';

exposeEngine(self as unknown as DedicatedWorkerGlobalScope);
(self as unknown as DedicatedWorkerGlobalScope).postMessage({ [READY_MESSAGE]: true });

/**
 * The worker script (built as dist/inpage.worker.js, a self-contained ES module): serves the engine to the
 * page that started it, then says it is ready, so that a page can tell a script that failed to load (404,
 * CSP) from one that is still loading.
 */
import { exposeEngine } from './worker';
import { READY_MESSAGE } from './protocol';
import { DIFFUSION_PORT, exposeDiffusion } from './diffusion_host';

exposeEngine(self as unknown as DedicatedWorkerGlobalScope);
// loadDiffusion sends a MessagePort; the diffusion pipeline is served on it (./diffusion_host.ts).
self.addEventListener('message', (ev: MessageEvent) => {
  const port = (ev.data as Record<string, unknown> | null)?.[DIFFUSION_PORT];
  if (port instanceof MessagePort) exposeDiffusion(port);
});
(self as unknown as DedicatedWorkerGlobalScope).postMessage({ [READY_MESSAGE]: true });

// A worker script for e2e/worker.spec.ts: the real inpage worker, plus a trap that throws an uncaught error,
// as a bug in the engine would, as soon as a request whose prompt says CRASH-THE-WORKER arrives.
import '/dist/inpage.worker.js';

self.addEventListener('message', (ev) => {
  let text = '';
  try {
    text = JSON.stringify(ev.data);
  } catch {
    return;
  }
  if (text?.includes('CRASH-THE-WORKER')) setTimeout(() => { throw new Error('injected crash'); });
});

/**
 * Resolves in a new task, after the messages already queued for this thread. The engines' compute calls
 * (onnxruntime-web's WASM run above all) resolve through microtasks only, so a loop of them never lets a
 * worker handle the page's "abort" message; awaiting this between steps does. MessageChannel avoids
 * setTimeout's 4 ms clamp on nested timers; a created channel is closed at once so Node can exit.
 * This module imports nothing: every layer may use it.
 */
export function nextTask(): Promise<void> {
  if (typeof MessageChannel === 'undefined') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

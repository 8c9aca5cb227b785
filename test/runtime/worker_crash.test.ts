// A worker that crashes after it started: the page side (connectModel) over a stand-in Worker — an
// EventTarget that relays comlink's messages through a MessageChannel and can fire the `error` event a real
// Worker fires when an error escapes it. The engine behind it is a stub that never answers, as a dead worker
// never does, so without crash handling every call below would wait forever. (e2e/worker.spec.ts crashes
// a real worker in Chromium.)
import { expose } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { InpageError, WorkerCrashedError } from '../../src/errors';
import { connectModel } from '../../src/runtime/client';
import type { LanguageModel } from '../../src/runtime/types';

class FakeWorker extends EventTarget {
  terminated = 0;
  constructor(private readonly port: MessagePort) {
    super();
    port.addEventListener('message', (ev) => this.dispatchEvent(new MessageEvent('message', { data: (ev as MessageEvent).data })));
    port.start();
  }
  postMessage(message: unknown, transfer: Transferable[] = []): void {
    this.port.postMessage(message, transfer);
  }
  terminate(): void {
    this.terminated++;
    this.port.close();
  }
  /** What a browser does when an error escapes the worker's code. */
  crash(message: string): void {
    this.dispatchEvent(Object.assign(new Event('error'), { message, filename: 'inpage.worker.js', lineno: 7 }));
  }
}

const never = () => new Promise<never>(() => {});
const INFO = { name: 'stub', architecture: 'llama', backend: 'webgpu', contextLength: 16 };

/** A stand-in worker serving a stub engine: load answers (unless `hangLoad`), nothing else ever does. */
function stubWorker(hangLoad = false) {
  const { port1, port2 } = new MessageChannel();
  const ports: MessagePort[] = [];
  expose({
    load: () => (hangLoad ? never() : Promise.resolve({ info: INFO, tokenizerMetadata: {} })),
    generate: (port: MessagePort) => void ports.push(port),
    logits: never,
    unload: never,
  }, port1);
  const worker = new FakeWorker(port2);
  const close = () => worker.terminate();
  return { worker, close, ports, port1 };
}

/** How a promise ended within `ms`: its value or error, or 'pending'. */
async function settled(p: Promise<unknown>, ms = 50): Promise<{ value?: unknown; error?: unknown } | 'pending'> {
  return Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

let opened: { port1: MessagePort }[] = [];
afterEach(() => {
  for (const o of opened) o.port1.close();
  opened = [];
});

describe('a worker that crashes after it started', () => {
  it('fails a load in progress with WorkerCrashedError and ends the worker', async () => {
    const s = stubWorker(true);
    opened.push(s);
    const loading = connectModel(s.worker as unknown as Worker, { url: 'http://127.0.0.1/m.gguf' }, s.close, 'test');
    expect(await settled(loading)).toBe('pending');
    s.worker.crash('Uncaught RangeError: out of bounds');
    const r = await settled(loading);
    expect(r).not.toBe('pending');
    const e = (r as { error: WorkerCrashedError }).error;
    expect(e).toBeInstanceOf(WorkerCrashedError);
    expect(e).toBeInstanceOf(InpageError);
    expect(e.code).toBe('WorkerCrashed');
    expect(e.message).toContain('Uncaught RangeError: out of bounds (inpage.worker.js:7)');
    expect(s.worker.terminated).toBeGreaterThanOrEqual(1);
  });

  it('rejects every pending request, then every later call, with the same typed error', async () => {
    const s = stubWorker();
    opened.push(s);
    const llm: LanguageModel = await connectModel(s.worker as unknown as Worker, { url: 'http://127.0.0.1/m.gguf' }, s.close, 'test');
    expect(llm.info.runtime).toBe('worker');

    const whole = llm.completions.create({ prompt: 'a', max_tokens: 4 });
    const stream = await llm.completions.create({ prompt: 'b', max_tokens: 4, stream: true });
    const firstChunk = stream[Symbol.asyncIterator]().next();
    const chat = llm.chat.completions.create({ messages: [{ role: 'user', content: 'c' }] });
    const logits = llm.logits([1, 2, 3]);
    // Control: the stub never answers, so without a crash all four stay pending.
    for (const p of [whole, firstChunk, chat, logits]) expect(await settled(p)).toBe('pending');
    expect(s.worker.terminated).toBe(0);

    s.worker.crash('Uncaught Error: boom');
    const results = await Promise.all([whole, firstChunk, chat, logits].map((p) => settled(p)));
    const errors = results.map((r) => (r === 'pending' ? r : r.error));
    expect(errors.every((e) => e instanceof WorkerCrashedError)).toBe(true);
    expect(new Set(errors).size).toBe(1); // one crash, one error object
    expect((errors[0] as WorkerCrashedError).detail).toBe('Uncaught Error: boom (inpage.worker.js:7)');
    expect(s.worker.terminated).toBe(1);
    expect(s.ports).toHaveLength(3); // the requests did reach the worker before it crashed

    // Later calls fail at once with the same error; a second error event changes nothing.
    s.worker.crash('another');
    const later = await settled(llm.completions.create({ prompt: 'd', max_tokens: 1 }));
    expect((later as { error: unknown }).error).toBe(errors[0]);
    // A stream is refused at create(), as every request made after the crash.
    expect((await settled(llm.completions.create({ prompt: 'e', max_tokens: 1, stream: true })) as { error: unknown }).error).toBe(errors[0]);
    expect((await settled(llm.logits([1])) as { error: unknown }).error).toBe(errors[0]);
    // The page's tokenizer copy needs no worker; unload has nothing left to free and resolves.
    expect(await settled(llm.unload())).toEqual({ value: undefined });
    expect(s.worker.terminated).toBe(1);
  });

  it('an unload in progress resolves when the worker crashes (the GPU memory went with it)', async () => {
    const s = stubWorker();
    opened.push(s);
    const llm = await connectModel(s.worker as unknown as Worker, { url: 'http://127.0.0.1/m.gguf' }, s.close, 'test');
    const unloading = llm.unload();
    expect(await settled(unloading)).toBe('pending');
    s.worker.crash('Uncaught Error: late');
    expect(await settled(unloading)).toEqual({ value: undefined });
    expect(s.worker.terminated).toBeGreaterThanOrEqual(1);
  });
});

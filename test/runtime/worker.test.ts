// The worker runtime's protocol in Node: the worker side (EngineHost) exposed with comlink on one end of a
// MessageChannel, the page side (connectModel) on the other — the same code that runs across a real Worker
// in the browser (e2e/worker.spec.ts), with the engine on Dawn. Every answer is compared with the same
// model loaded in-thread, and greedy text with the recorded exact reference.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../../src/errors';
import { loadModel as loadInThread } from '../../src/llm/load_model';
import type { LanguageModel as EngineModel } from '../../src/llm/language_model';
import { connectModel, uncloneableOption } from '../../src/runtime/client';
import { workerUrlFor } from '../../src/runtime/spawn';
import { loadModel } from '../../src/runtime/load';
import { deserializeError, serializeError } from '../../src/runtime/protocol';
import type { LanguageModel } from '../../src/runtime/types';
import { exposeEngine } from '../../src/runtime/worker';
import { nodeGPU } from '../gpu';
import { FIXTURE_DIR, fixtureBytes } from '../llm/fixtures';

const reference = JSON.parse(readFileSync(`${FIXTURE_DIR}reference/exact-q4_0.json`, 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};

/** A page side and a worker side joined by a MessageChannel; `closed` counts close() calls. */
async function connect(options: Parameters<typeof connectModel>[1]) {
  const { port1, port2 } = new MessageChannel();
  exposeEngine(port1 as unknown as Parameters<typeof exposeEngine>[0], { gpu: nodeGPU() });
  const state = { closed: 0 };
  const close = () => {
    state.closed++;
    port1.close();
    port2.close();
  };
  const llm = await connectModel(port2 as unknown as Parameters<typeof connectModel>[0], options, close, 'test channel');
  return { llm, state };
}

async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<Error & { code?: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('errors cross the boundary as the same classes', () => {
  it('round-trips every InpageError class with code, name, message and fields', () => {
    const samples: Error[] = [
      new errors.InpageError('NetworkError', 'net', { cause: new TypeError('inner') }),
      new errors.ContextOverflowError(300, 256),
      new errors.AbortError(),
      new errors.InvalidArgumentError('bad'),
      new errors.ModelFileError('TruncatedFile', 'short'),
      new errors.DeviceLostError('lost', 'destroyed'),
      new errors.UnsupportedFeatureError('shader-f16', 'no f16'),
      new errors.ShaderCompileError('matvec', 'oops'),
      new errors.BindingTooLargeError(10, 5, 'w'),
      new TypeError('plain'),
    ];
    for (const e of samples) {
      const back = deserializeError(structuredClone(serializeError(e)));
      expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(e));
      expect(back).toBeInstanceOf(Error);
      expect(back.name).toBe(e.name);
      expect(back.message).toBe(e.message);
      expect({ ...back }).toEqual({ ...e });
      expect(Object.prototype.toString.call(back)).toBe('[object Error]');
    }
    const overflow = deserializeError(serializeError(new errors.ContextOverflowError(300, 256))) as errors.ContextOverflowError;
    expect(overflow).toBeInstanceOf(errors.InpageError);
    expect([overflow.code, overflow.promptTokens, overflow.contextLength]).toEqual(['ContextOverflow', 300, 256]);
    const withCause = deserializeError(serializeError(samples[0]));
    expect(withCause.cause).toBeInstanceOf(TypeError);
  });
});

describe('routing', () => {
  it('finds options that cannot cross to a worker, and where the worker script is', () => {
    expect(uncloneableOption({ url: 'x', contextLength: 64, bytes: new Uint8Array(2), cache: { chunkBytes: 1, headers: { a: 'b' } }, onProgress: () => {} })).toBeUndefined();
    expect(uncloneableOption({ url: 'x', cache: { fetch: () => {} } })).toBe('cache.fetch');
    expect(uncloneableOption({ url: 'x', cache: { limiter: new (class Limiter {})() } })).toBe('cache.limiter');
    expect(workerUrlFor({ baseUrl: 'https://cdn.example/npm/inpage@0.1.0/dist' })).toBe('https://cdn.example/npm/inpage@0.1.0/dist/inpage.worker.js');
    expect(workerUrlFor({ baseUrl: 'https://cdn.example/dist/' })).toBe('https://cdn.example/dist/inpage.worker.js');
    expect(workerUrlFor({ workerUrl: 'https://x.example/w.js', baseUrl: 'https://y.example/' })).toBe('https://x.example/w.js');
    expect(workerUrlFor()).toBe(new URL('../../src/runtime/inpage.worker.js', import.meta.url).href);
  });

  it('stays in-thread in Node, and says so', async () => {
    const llm = await loadModel({ bytes: fixtureBytes('q4_0'), gpu: nodeGPU() });
    try {
      expect(llm.info.runtime).toBe('in-thread');
      expect(llm.info.runtimeReason).toMatch(/gpu/);
    } finally {
      await llm.unload();
    }
  });

  it('refuses worker: true where it cannot be honoured', async () => {
    expect((await caught(loadModel({ bytes: fixtureBytes('q4_0'), gpu: nodeGPU(), worker: true }))).code).toBe('InvalidArgument');
    expect((await caught(loadModel({ bytes: fixtureBytes('q4_0'), worker: true }))).message).toMatch(/Web Workers are not available/);
  });
});

describe('a model behind a MessageChannel', () => {
  let remote: LanguageModel;
  let local: EngineModel;
  let state: { closed: number };
  const progress: string[] = [];

  beforeAll(async () => {
    ({ llm: remote, state } = await connect({ bytes: fixtureBytes('q4_0'), chatFallback: 'chatml', onProgress: (e) => progress.push(e.phase) }));
    local = await loadInThread({ bytes: fixtureBytes('q4_0'), gpu: nodeGPU(), chatFallback: 'chatml' });
  });
  afterAll(async () => {
    await remote?.unload();
    await local?.unload();
  });

  it('reports the same info, plus where it runs, and forwards load progress', async () => {
    expect(remote.info).toEqual({ ...local.info, runtime: 'worker', runtimeReason: 'test channel' });
    // Every progress call reached the page before loadModel returned, 'ready' last, as in-thread.
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toBe('ready');
  });

  it('has a synchronous tokenizer equal to the engine one', () => {
    for (const { prompt } of reference.prompts) {
      const ids = remote.tokenizer.encode(prompt);
      expect(ids).toEqual(local.tokenizer.encode(prompt));
      expect(remote.tokenizer.decode(ids)).toBe(local.tokenizer.decode(ids));
    }
    expect([remote.tokenizer.vocabSize, remote.tokenizer.bosId, remote.tokenizer.eosId]).toEqual([local.tokenizer.vocabSize, local.tokenizer.bosId, local.tokenizer.eosId]);
    const d = remote.tokenizer.createStreamDecoder();
    expect(remote.tokenizer.encode('Hello there').map((id) => d.push(id)).join('') + d.flush()).toBe(local.tokenizer.decode(remote.tokenizer.encode('Hello there')));
  });

  it('greedy completions equal the exact reference', async () => {
    for (const { prompt, text_until_eos } of reference.prompts.slice(0, 6)) {
      const r = await remote.completions.create({ prompt, max_tokens: 32, temperature: 0 });
      expect(r.choices[0]!.text).toBe(text_until_eos);
      expect(r.object).toBe('text_completion');
      expect(r.usage.prompt_tokens).toBe(remote.tokenizer.encode(prompt).length);
    }
  });

  it('streams chunks that add up to the non-streamed text; seeded sampling matches in-thread', async () => {
    const { prompt } = reference.prompts[2]!;
    const req = { prompt, max_tokens: 24, temperature: 0.9, seed: 7 };
    const whole = await local.completions.create(req);
    const chunks = [];
    for await (const c of await remote.completions.create({ ...req, stream: true })) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.map((c) => c.choices[0]!.text).join('')).toBe(whole.choices[0]!.text);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe(whole.choices[0]!.finish_reason);
    expect(chunks.at(-1)!.usage).toEqual(whole.usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === undefined && c.choices[0]!.finish_reason === null)).toBe(true);
  });

  it('chat: streamed deltas add up to the non-streamed message; typed errors as in-thread', async () => {
    const messages = [{ role: 'user', content: 'Tell me a fortune' }];
    const whole = await remote.chat.completions.create({ messages, max_tokens: 12, temperature: 0 });
    expect(whole.choices[0]!.message.content).toBe((await local.chat.completions.create({ messages, max_tokens: 12, temperature: 0 })).choices[0]!.message.content);
    const deltas = [];
    for await (const c of await remote.chat.completions.create({ messages, max_tokens: 12, temperature: 0, stream: true })) deltas.push(c);
    expect(deltas[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(deltas.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe(whole.choices[0]!.message.content);
    expect(deltas.at(-1)!.object).toBe('chat.completion.chunk');
    const remoteErr = await caught(remote.chat.completions.create({ messages: [] }));
    const localErr = await caught(local.chat.completions.create({ messages: [] }));
    expect(remoteErr).toBeInstanceOf(errors.InvalidArgumentError);
    expect([remoteErr.name, remoteErr.code, remoteErr.message]).toEqual([localErr.name, localErr.code, localErr.message]);
  });

  it('abort mid-stream: AbortError on the page, and the next request is correct', async () => {
    const ac = new AbortController();
    const stream = await remote.completions.create({ prompt: 'Once', max_tokens: 200, temperature: 0.8, seed: 1, stream: true, signal: ac.signal });
    let n = 0;
    const err = await caught(async () => {
      for await (const _ of stream) if (++n === 3) ac.abort();
    });
    expect(err).toBeInstanceOf(errors.AbortError);
    expect([err.code, err.name]).toEqual(['Aborted', 'AbortError']);
    expect(err.message).toMatch(/^generation aborted/);
    expect(n).toBeLessThan(20);
    const { prompt, text_until_eos } = reference.prompts[1]!;
    expect((await remote.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0]!.text).toBe(text_until_eos);
  });

  it('abort of a non-streamed request, and a signal aborted before the call, as in-thread', async () => {
    const ac = new AbortController();
    const pending = remote.completions.create({ prompt: 'Once', max_tokens: 200, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user left')), 30);
    const err = await caught(pending);
    expect([err.code, err.message]).toEqual(['Aborted', 'generation aborted: user left']);

    const pre = AbortSignal.abort();
    const remoteErr = await caught(remote.completions.create({ prompt: 'Once', max_tokens: 4, signal: pre }));
    const localErr = await caught(local.completions.create({ prompt: 'Once', max_tokens: 4, signal: pre }));
    expect([remoteErr.name, remoteErr.code, remoteErr.message]).toEqual([localErr.name, localErr.code, localErr.message]);
  });

  it('leaving a stream early frees the queue for the next request', async () => {
    for await (const _ of await remote.completions.create({ prompt: 'Once', max_tokens: 100, stream: true })) break;
    const { prompt, text_until_eos } = reference.prompts[3]!;
    expect((await remote.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0]!.text).toBe(text_until_eos);
  });

  it('concurrent requests all complete, each with its own answer', async () => {
    const ps = reference.prompts.slice(4, 8);
    const got = await Promise.all(ps.map(({ prompt }) => remote.completions.create({ prompt, max_tokens: 32, temperature: 0 })));
    expect(got.map((r) => r.choices[0]!.text)).toEqual(ps.map((p) => p.text_until_eos));
  });

  it('typed errors: context overflow and invalid arguments, identical to in-thread', async () => {
    const long = Array.from({ length: 300 }, (_, i) => 100 + (i % 50));
    for (const req of [{ prompt: long, max_tokens: 4 }, { prompt: 'Hi', temperature: -1 }, { prompt: 'Hi', max_tokens: 1.5 }]) {
      const remoteErr = await caught(remote.completions.create(req));
      const localErr = await caught(local.completions.create(req));
      expect(Object.getPrototypeOf(remoteErr)).toBe(Object.getPrototypeOf(localErr));
      expect([remoteErr.name, remoteErr.code, remoteErr.message]).toEqual([localErr.name, localErr.code, localErr.message]);
    }
    const overflow = (await caught(remote.completions.create({ prompt: long }))) as errors.ContextOverflowError;
    expect(overflow).toBeInstanceOf(errors.ContextOverflowError);
    expect([overflow.code, overflow.promptTokens, overflow.contextLength]).toEqual(['ContextOverflow', 300, remote.info.contextLength]);
    // In a stream the error comes from iterating, as in-thread.
    const stream = await remote.completions.create({ prompt: long, stream: true });
    expect((await caught(async () => { for await (const _ of stream); })).code).toBe('ContextOverflow');
  });

  it('logits equal in-thread logits', async () => {
    const ids = remote.tokenizer.encode('Once upon a time');
    const [a, b] = [await remote.logits(ids), await local.logits(ids)];
    expect(a.length).toBe(ids.length);
    a.forEach((row, i) => {
      expect(row).toBeInstanceOf(Float32Array);
      expect(Array.from(row)).toEqual(Array.from(b[i]!));
    });
  });

  it('unload cancels requests already made (AbortError), ends the worker; later calls fail as in-thread', async () => {
    const before = remote.completions.create({ prompt: 'Once', max_tokens: 8, temperature: 0 });
    await remote.unload();
    const cancelled = await caught(before);
    expect([cancelled.name, cancelled.code]).toEqual(['AbortError', 'Aborted']);
    expect(cancelled.message).toMatch(/unloaded/);
    expect(state.closed).toBe(1);
    await remote.unload();
    expect(state.closed).toBe(1);
    const err = await caught(remote.completions.create({ prompt: 'Once' }));
    expect([err.code, err.message]).toEqual(['InvalidArgument', 'this model was unloaded']);
    expect((await caught(remote.completions.create({ prompt: 'Once', stream: true }))).message).toBe('this model was unloaded');
    expect((await caught(remote.logits([1, 2]))).code).toBe('InvalidArgument');
  });
});

describe('loading through the channel', () => {
  it('a bad file fails with the typed error, and the worker is closed', async () => {
    const bytes = fixtureBytes('q4_0').slice(0, 1000);
    let closed = 0;
    const { port1, port2 } = new MessageChannel();
    exposeEngine(port1 as never, { gpu: nodeGPU() });
    const err = await caught(connectModel(port2 as never, { bytes }, () => closed++, 'x'));
    const localErr = await caught(loadInThread({ bytes, gpu: nodeGPU() }));
    expect(err).toBeInstanceOf(errors.ModelFileError);
    expect([err.name, err.code, err.message]).toEqual([localErr.name, localErr.code, localErr.message]);
    expect(closed).toBe(1);
    port1.close();
  });

  it('an aborted load rejects with the signal reason and closes the worker', async () => {
    let closed = 0;
    const { port1, port2 } = new MessageChannel();
    exposeEngine(port1 as never, { gpu: nodeGPU() });
    const ac = new AbortController();
    const p = connectModel(port2 as never, { bytes: fixtureBytes('q4_0'), signal: ac.signal }, () => closed++, 'x');
    ac.abort();
    const err = await caught(p);
    expect(err.name).toBe('AbortError');
    expect(closed).toBe(1);
    port1.close();
  });
});

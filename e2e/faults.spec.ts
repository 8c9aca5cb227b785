// The faults of the README's "When things go wrong" table in Chromium, from dist/inpage.js with the default
// runtime (the engine in a Web Worker, the IndexedDB cache on): Playwright routes in front of the built-in
// model inject the network faults. Each case asserts the typed error (or the correct output) and that a model
// then still gives the recorded exact reference's text. (Node runs the same cases in detail against the
// loopback fault server: test/formats/http_reader.test.ts, test/runtime/cache.test.ts, test/llm/api.test.ts.)
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

const MODEL = '/public/models/fortunes-1.8m-q4_0.gguf';
const MODEL_BYTES = readFileSync(new URL(`..${MODEL}`, import.meta.url));
const reference = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};
const { prompt: PROMPT, text_until_eos: EXPECTED } = reference.prompts[0]!;

type Inpage = {
  loadModel: (o: Record<string, unknown>) => Promise<any>;
  cache: { clear(): Promise<void>; list(): Promise<unknown[]> };
};
type Typed = { name: string; code?: string; message: string };

test.beforeEach(async ({ page }) => {
  await page.goto('/e2e/pages/esm.html');
  await page.evaluate(async () => (await import('/dist/inpage.js' as string)).cache.clear());
});

test('requests: bad fields are refused at create(), unsupported ones by name; message shapes and typed control-token text work; the model stays exact', async ({ page }) => {
  const r = await page.evaluate(async ({ url, prompt }) => {
    const inpage = (await import('/dist/inpage.js' as string)) as Inpage;
    const caught = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Typed) => ({ name: e.name, code: e.code, message: e.message }));
    const llm = await inpage.loadModel({ url, chatFallback: 'chatml' });
    const text = 'Tell me <|endoftext|> something';
    const rendered = `<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`;
    const out = {
      runtime: llm.info.runtime,
      topP: await caught(llm.completions.create({ prompt: 'a', top_p: 0, stream: true })),
      typo: await caught(llm.completions.create({ prompt: 'a', maxTokens: 3 })),
      n: await caught(llm.completions.create({ prompt: 'a', n: 2 })),
      batch: await caught(llm.completions.create({ prompt: ['a', 'b'] })),
      huge: await caught(llm.completions.create({ prompt: 'a', logit_bias: { 5: 1e39 } })),
      image: await caught(llm.chat.completions.create({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] })),
      promptTokens: (await llm.chat.completions.create({ messages: [{ role: 'user', content: [{ type: 'text', text }] }], max_tokens: 0 })).usage.prompt_tokens,
      // ChatML's markers are plain text in this vocabulary: the whole prompt is text, <|endoftext|> included.
      asText: llm.tokenizer.encode(rendered).length,
      injected: llm.tokenizer.encode(rendered, { parseSpecial: true }).length,
      text: (await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text,
    };
    await llm.unload();
    return out;
  }, { url: MODEL, prompt: PROMPT });
  expect(r.runtime).toBe('worker');
  expect(r.topP).toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('top_p') });
  expect(r.typo).toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('maxTokens') });
  expect(r.n).toMatchObject({ code: 'UnsupportedFeature', message: expect.stringContaining('n = 2') });
  expect(r.batch).toMatchObject({ code: 'UnsupportedFeature' });
  expect(r.huge).toMatchObject({ code: 'InvalidArgument' });
  expect(r.image).toMatchObject({ code: 'UnsupportedFeature', message: expect.stringContaining('image_url') });
  expect(r.promptTokens).toBe(r.asText);
  expect(r.injected).not.toBe(r.asText); // precondition: parsed as special, the typed text would be one token
  expect(r.text).toBe(EXPECTED);
});

test('queue and unload: an aborted waiting request settles at once; unload cancels the running one', async ({ page }) => {
  const r = await page.evaluate(async ({ url, prompt }) => {
    const inpage = (await import('/dist/inpage.js' as string)) as Inpage;
    const caught = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Typed) => ({ name: e.name, code: e.code, message: e.message }));
    const llm = await inpage.loadModel({ url });
    const long = llm.completions.create({ prompt: 'Once', max_tokens: 200, temperature: 0.8, logit_bias: { 1023: -100 } });
    const ac = new AbortController();
    const queued = caught(llm.completions.create({ prompt: 'Love is', max_tokens: 8, signal: ac.signal }));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    ac.abort();
    const aborted = await queued;
    const abortMs = performance.now() - t0;
    const unloading = llm.unload();
    const running = await caught(long);
    await unloading;
    const after = await caught(llm.completions.create({ prompt: 'a' }));
    const again = await inpage.loadModel({ url });
    const text = (await again.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text;
    await again.unload();
    return { aborted, abortMs, running, after, text };
  }, { url: MODEL, prompt: PROMPT });
  expect(r.aborted).toMatchObject({ name: 'AbortError', code: 'Aborted' });
  expect(r.abortMs).toBeLessThan(1000);
  expect(r.running).toMatchObject({ code: 'Aborted', message: expect.stringContaining('unloaded') });
  expect(r.after).toMatchObject({ code: 'InvalidArgument' });
  expect(r.text).toBe(EXPECTED);
});

test('network: a server without Range, a 503, an HTML page, a file that is no model, an aborted load', async ({ page }) => {
  let mode = 'whole';
  let failures = 0;
  await page.route('**/faulty/**', async (route) => {
    if (mode === 'html') return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><p>Sign in</p>'.padEnd(4000) });
    if (mode === 'text') return route.fulfill({ status: 200, contentType: 'text/plain', body: 'not a model\n'.repeat(2000) });
    if (mode === '503' && failures++ < 2) return route.fulfill({ status: 503, body: '' });
    // No Range support, no validators: the whole file with 200, whatever was asked.
    return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: MODEL_BYTES });
  });
  const run = (m: string, options: Record<string, unknown> = {}, abortAt?: string) => {
    mode = m;
    failures = 0;
    return page.evaluate(async ({ url, prompt, options, abortAt }) => {
      const inpage = (await import('/dist/inpage.js' as string)) as Inpage;
      const ac = new AbortController();
      try {
        const llm = await inpage.loadModel({ url, ...options, signal: ac.signal, onProgress: (e: { phase: string }) => e.phase === abortAt && ac.abort() });
        const text = (await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text as string;
        await llm.unload();
        return { text, entries: (await inpage.cache.list()).length };
      } catch (e) {
        const x = e as Typed;
        return { error: { code: x.code, name: x.name, message: x.message }, entries: (await inpage.cache.list()).length };
      }
    }, { url: '/faulty/model.gguf', prompt: PROMPT, options, abortAt });
  };
  expect(await run('whole')).toEqual({ text: EXPECTED, entries: 1 }); // cached from the one 200 answer
  await page.evaluate(async () => (await import('/dist/inpage.js' as string)).cache.clear());
  expect(await run('whole', { cache: false })).toEqual({ text: EXPECTED, entries: 0 }); // read front to back
  expect(await run('503', { cache: false })).toEqual({ text: EXPECTED, entries: 0 }); // retried
  const html = await run('html');
  expect(html.error).toMatchObject({ code: 'NetworkError', message: expect.stringContaining('HTML') });
  expect(html.entries).toBe(0);
  const text = await run('text');
  expect(text.error).toMatchObject({ code: 'InvalidModelFile' });
  expect(text.entries).toBe(0); // no partial entry left behind
  const aborted = await run('whole', { cache: false, worker: false }, 'gpu-upload');
  expect(aborted.error).toMatchObject({ name: 'AbortError', code: 'Aborted' });
  expect(await run('whole')).toEqual({ text: EXPECTED, entries: 1 });
});

test('a file replaced on the server during a download (no ETag, same size) is never cached as a mix of the two', async ({ page }) => {
  const v2 = Buffer.from(MODEL_BYTES);
  for (let i = 200_000; i < v2.length; i++) v2[i]! ^= 0x55; // same size, other weights
  let served: Buffer = MODEL_BYTES;
  let cutFirst = true;
  await page.route('**/changing/model.gguf', async (route) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(route.request().headers()['range'] ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Number(m[2]) + 1 : served.length;
    const headers = { 'Content-Range': `bytes ${start}-${end - 1}/${served.length}`, 'Content-Type': 'application/octet-stream' };
    if (cutFirst) {
      // The connection drops after 300 000 bytes; the file is replaced before the client retries.
      cutFirst = false;
      const body = served.subarray(start, 300_000);
      served = v2;
      return route.fulfill({ status: 206, headers, body });
    }
    return route.fulfill({ status: 206, headers: { ...headers, 'Content-Length': String(end - start) }, body: served.subarray(start, end) });
  });
  const r = await page.evaluate(async ({ prompt }) => {
    const inpage = (await import('/dist/inpage.js' as string)) as Inpage;
    const cache = { chunkBytes: 128 * 1024, retries: 2, retryDelayMs: 20 };
    let error: Typed | undefined;
    try {
      await inpage.loadModel({ url: '/changing/model.gguf', cache, worker: false });
    } catch (e) {
      const x = e as Typed;
      error = { name: x.name, code: x.code, message: x.message };
    }
    const entries = (await inpage.cache.list()).length;
    const good = await inpage.loadModel({ url: '/public/models/fortunes-1.8m-q4_0.gguf' });
    const text = (await good.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text as string;
    await good.unload();
    return { error, entries, text };
  }, { prompt: PROMPT });
  expect(r.error).toMatchObject({ code: 'CorruptCache', message: expect.stringContaining('changed') });
  expect(r.entries).toBe(0);
  expect(r.text).toBe(EXPECTED);
});

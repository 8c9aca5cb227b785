// onnxruntime-web as the fallback in a Chromium with WebGPU switched off (no WebGPU flags and
// --disable-features=WebGPU: requestAdapter() gives null in the page and in workers), through the public
// loadModel of the library build (dist/inpage.js; the engine in its Web Worker). References: the exact
// reference's recorded greedy continuations (float64, weights dequantized per the GGUF spec).
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { optimumFolderFromGguf, writeFolder } from '../test/backends/optimum_fixture';

test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic', '--disable-features=WebGPU'],
  },
});

const FIXTURE = new URL('./.fixtures/fortunes-onnx-nogpu/', import.meta.url).pathname;
const FOLDER_URL = '/e2e/.fixtures/fortunes-onnx-nogpu/';
const exact = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};

test.beforeAll(async () => {
  rmSync(FIXTURE, { recursive: true, force: true });
  mkdirSync(FIXTURE, { recursive: true });
  writeFolder(FIXTURE, await optimumFolderFromGguf('q4_0'));
});

async function openPage(page: Page): Promise<void> {
  await page.goto('/e2e/pages/esm.html');
}

test.describe('Chromium with WebGPU disabled', () => {
  test("loadModel backend 'auto' → wasm (in the worker) for a q4_0 GGUF: greedy text equals the exact reference", async ({ page }) => {
    await openPage(page);
    const prompts = exact.prompts.slice(0, 2).map((p) => p.prompt);
    const got = await page.evaluate(async (prompts) => {
      const inpage = await import('/dist/inpage.js' as string);
      const adapter = await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter();
      const messages: string[] = [];
      const llm = await inpage.loadModel({ url: '/public/models/fortunes-1.8m-q4_0.gguf', onProgress: (e: { message: string }) => messages.push(e.message) });
      const texts: string[] = [];
      for (const prompt of prompts) texts.push((await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text);
      const info = { backend: llm.info.backend, reason: llm.info.backendReason, runtime: llm.info.runtime };
      await llm.unload();
      let webgpu: { code?: string; message?: string } = {};
      try {
        await inpage.loadModel({ url: '/public/models/fortunes-1.8m-q4_0.gguf', backend: 'webgpu' });
      } catch (e) {
        webgpu = { code: (e as { code?: string }).code, message: (e as Error).message };
      }
      return { adapter: adapter ? 'adapter' : 'none', texts, info, messages, webgpu };
    }, prompts);
    expect(got.adapter).toBe('none');
    expect(got.info).toEqual({ backend: 'wasm', reason: 'no WebGPU adapter', runtime: 'worker' });
    expect(got.messages).toContain('backend wasm: no WebGPU adapter');
    got.texts.forEach((t, i) => expect(t, prompts[i]).toBe(exact.prompts[i]!.text_until_eos));
    // Asked for explicitly, our kernels are refused with the reason, not replaced by a slower path.
    expect(got.webgpu.code).toBe('BackendUnavailable');
    expect(got.webgpu.message).toContain('no WebGPU adapter');
  });

  test('loadModel on an ONNX folder URL → wasm in the worker, with a page-side tokenizer from tokenizer.json', async ({ page }) => {
    await openPage(page);
    const prompt = exact.prompts[1]!.prompt;
    const got = await page.evaluate(async ({ url, prompt }) => {
      const inpage = await import('/dist/inpage.js' as string);
      const llm = await inpage.loadModel({ url });
      const ids: number[] = llm.tokenizer.encode(prompt);
      const text = (await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text;
      const info = { backend: llm.info.backend, reason: llm.info.backendReason, runtime: llm.info.runtime };
      await llm.unload();
      return { ids, text, info };
    }, { url: FOLDER_URL, prompt });
    expect(got.info).toEqual({ backend: 'wasm', reason: 'no WebGPU adapter', runtime: 'worker' });
    expect(got.ids[0]).toBe(1023);
    expect(got.text).toBe(exact.prompts[1]!.text_until_eos);
  });
});

test('script-tag build: onnxruntime-web is found in dist/ort/ next to inpage.iife.js (page at another path)', async ({ page }) => {
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto('/e2e/pages/iife.html');
  const prompt = exact.prompts[2]!.prompt;
  const got = await page.evaluate(async ({ url, prompt }) => {
    const inpage = (globalThis as unknown as { inpage: { loadModel: (o: object) => Promise<any> } }).inpage;
    const llm = await inpage.loadModel({ url, worker: false });
    const text = (await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text;
    const backend = llm.info.backend;
    await llm.unload();
    return { text, backend };
  }, { url: FOLDER_URL, prompt });
  expect(got.backend).toBe('wasm');
  expect(got.text).toBe(exact.prompts[2]!.text_until_eos);
  expect(requested).toContain('/dist/ort/ort.wasm.min.mjs');
  expect(requested).toContain('/dist/ort/ort-wasm-simd-threaded.wasm');
});

test('an ONNX folder loaded twice: the second load reads the weights from the IndexedDB cache, with no model download', async ({ page }) => {
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await openPage(page);
  const run = () => page.evaluate(async (url) => {
    const inpage = await import('/dist/inpage.js' as string);
    const phases = new Set<string>();
    const llm = await inpage.loadModel({ url, onProgress: (e: { phase: string }) => phases.add(e.phase) });
    const text = (await llm.completions.create({ prompt: 'Once upon a time', max_tokens: 8, temperature: 0 })).choices[0].text;
    await llm.unload();
    return { text, phases: [...phases] };
  }, FOLDER_URL);
  const first = await run();
  const firstModelRequests = requested.filter((p) => p.includes('/onnx/')).length;
  requested.length = 0;
  const second = await run();
  expect(firstModelRequests).toBeGreaterThan(0);
  expect(first.phases).toContain('download');
  expect(requested.filter((p) => p.includes('/onnx/'))).toEqual([]);
  expect(second.phases).toContain('cache-read');
  expect(second.text).toBe(first.text);
});

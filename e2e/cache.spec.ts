// The IndexedDB weight cache in Chromium: the built-in model, served by scripts/serve.mjs, with Playwright
// routes in front of it to count the weight requests and inject faults. Every load's greedy text is compared
// with the recorded exact reference (as in llm.spec.ts). The engine runs in the page (`worker: false`) where
// the test stubs page globals (navigator.storage) or counts every request; one test uses the default (the
// engine in a Web Worker, whose IndexedDB is the page origin's too).
import { readFileSync } from 'node:fs';
import { expect, test, type Page, type Route } from '@playwright/test';

const MODEL = '/public/models/fortunes-1.8m-q4_0.gguf';
const MODEL_SIZE = 1031008;
const reference = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};
const PROMPT = reference.prompts[0]!.prompt;
const EXPECTED = reference.prompts[0]!.text_until_eos;

interface LoadResult {
  text?: string;
  error?: { code?: string; message: string; neededBytes?: number; availableBytes?: number };
  phases: string[];
  entries: { url: string; size: number; storedBytes: number; complete: boolean }[];
}

/** loadModel in the page with `options` (JSON), one greedy completion, then the cache listing. */
async function load(page: Page, options: Record<string, unknown>): Promise<LoadResult> {
  return page.evaluate(async ({ url, prompt, options }) => {
    const inpage = await import('/dist/inpage.js' as string);
    const phases = new Set<string>();
    let text: string | undefined;
    let error: LoadResult['error'];
    try {
      const llm = await inpage.loadModel({ url, ...options, onProgress: (e: { phase: string }) => phases.add(e.phase) });
      text = (await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text;
      await llm.unload();
    } catch (e) {
      const x = e as { code?: string; message: string; neededBytes?: number; availableBytes?: number };
      error = { code: x.code, message: x.message, neededBytes: x.neededBytes, availableBytes: x.availableBytes };
    }
    const entries = await inpage.cache.list();
    return { text, error, phases: [...phases], entries: entries.map((e: LoadResult['entries'][number]) => ({ url: e.url, size: e.size, storedBytes: e.storedBytes, complete: e.complete })) };
  }, { url: MODEL, prompt: PROMPT, options });
}

/** Counts the model's requests (their Range headers); `fault` may answer instead of the server. */
async function routeModel(page: Page, fault?: (route: Route, range: string) => Promise<boolean>): Promise<string[]> {
  const ranges: string[] = [];
  await page.route(`**${MODEL}`, async (route) => {
    const range = route.request().headers()['range'] ?? '';
    ranges.push(range);
    if (fault && (await fault(route, range))) return;
    await route.continue();
  });
  return ranges;
}

/** Overwrites one byte of chunk `index` of the model's cache entry, straight in IndexedDB. */
async function corruptChunk(page: Page, index: number): Promise<number> {
  return page.evaluate(async (index) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('inpage-cache');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const store = db.transaction('weights', 'readwrite').objectStore('weights');
    const keys = await new Promise<IDBValidKey[]>((resolve) => {
      const r = store.getAllKeys();
      r.onsuccess = () => resolve(r.result);
    });
    const key = keys.find((k) => Array.isArray(k) && k[0] === 'c' && k[4] === index)!;
    const value = await new Promise<Blob>((resolve) => {
      const r = store.get(key);
      r.onsuccess = () => resolve(r.result);
    });
    const bad = new Uint8Array(await value.arrayBuffer());
    bad[1234] ^= 0xff;
    // A fresh transaction: the one above has ended while the blob was read.
    const tx = db.transaction('weights', 'readwrite');
    tx.objectStore('weights').put(new Blob([bad]), key);
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
    return bad.length;
  }, index);
}

test('a cached model reloads with no weight requests and the same greedy text', async ({ page }) => {
  const ranges = await routeModel(page);
  await page.goto('/e2e/pages/esm.html');
  const first = await load(page, { worker: false });
  expect(first.error).toBeUndefined();
  expect(first.text).toBe(EXPECTED);
  expect(ranges).toEqual(['bytes=0-']); // one streamed download into the cache
  expect(first.phases).toEqual(expect.arrayContaining(['download', 'gpu-upload', 'ready']));
  expect(first.entries).toEqual([{ url: `${new URL(page.url()).origin}${MODEL}`, size: MODEL_SIZE, storedBytes: MODEL_SIZE, complete: true }]);

  ranges.length = 0;
  await page.reload();
  const second = await load(page, { worker: false });
  expect(second.error).toBeUndefined();
  expect(ranges).toEqual([]);
  expect(second.text).toBe(EXPECTED);
  expect(second.phases).toContain('cache-read');
  expect(second.phases).not.toContain('download');
});

test('the engine in a worker loads from the same cache', async ({ page }) => {
  const ranges = await routeModel(page);
  await page.goto('/e2e/pages/esm.html');
  const first = await load(page, {});
  expect(first.error).toBeUndefined();
  expect(first.text).toBe(EXPECTED);
  expect(ranges).toContain('bytes=0-'); // the route sees the worker's requests
  expect(first.entries).toEqual([expect.objectContaining({ size: MODEL_SIZE, storedBytes: MODEL_SIZE, complete: true })]);

  ranges.length = 0;
  await page.reload();
  const second = await load(page, {});
  expect(second.error).toBeUndefined();
  expect(second.text).toBe(EXPECTED);
  expect(second.phases).toContain('cache-read');
  expect(second.phases).not.toContain('download');
  // The weights come from the cache. src/runtime/worker.ts still reads the GGUF header a second time straight
  // from the URL (for the page's tokenizer), bypassing the cache: that is the only request left.
  expect(ranges.filter((r) => r !== 'bytes=0-1999999')).toEqual([]);
});

test('a download cut at a random byte resumes from the last complete chunk; the output is identical', async ({ page }) => {
  const chunkBytes = 128 * 1024;
  const cutAt = 150_000 + Math.floor(Math.random() * 700_000);
  console.log(`cutting the first response at byte ${cutAt}`);
  let down = true;
  let cut = false;
  const ranges = await routeModel(page, async (route) => {
    if (!down) return false;
    if (cut) {
      await route.abort('connectionreset');
      return true;
    }
    cut = true;
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['content-length'];
    await route.fulfill({ status: response.status(), headers, body: (await response.body()).subarray(0, cutAt) });
    return true;
  });
  await page.goto('/e2e/pages/esm.html');
  const options = { worker: false, cache: { chunkBytes, retries: 2, retryDelayMs: 20 } };
  const failed = await load(page, options);
  expect(failed.error?.code).toBe('NetworkError');
  const complete = Math.floor(cutAt / chunkBytes);
  expect(failed.entries).toEqual([expect.objectContaining({ size: MODEL_SIZE, storedBytes: complete * chunkBytes, complete: false })]);

  // The network is back; a new page load resumes.
  down = false;
  ranges.length = 0;
  await page.reload();
  const resumed = await load(page, options);
  expect(resumed.error).toBeUndefined();
  expect(resumed.text).toBe(EXPECTED);
  // This server sends neither ETag nor Last-Modified, so the resume also re-reads the 4 KiB before the
  // resume point to tell that the file is still the same (RESUME_OVERLAP_BYTES, src/runtime/cache).
  const overlap = 4096;
  expect(ranges).toEqual([`bytes=${complete * chunkBytes - overlap}-${MODEL_SIZE - 1}`]);
  expect(cutAt - complete * chunkBytes).toBeLessThan(chunkBytes); // bytes fetched twice: less than one chunk + 4 KiB
  expect(resumed.entries[0]).toMatchObject({ storedBytes: MODEL_SIZE, complete: true });
});

test('a corrupted chunk in IndexedDB is detected and fetched again; the output is correct', async ({ page }) => {
  const chunkBytes = 128 * 1024;
  // Chunks are hashed on a helper worker (src/runtime/cache/digest.ts) once it has started: record it.
  const helpers: Promise<string>[] = [];
  page.on('worker', (w) => helpers.push(w.evaluate(() => (self as unknown as { name: string }).name).catch(() => '?')));
  const ranges = await routeModel(page);
  await page.goto('/e2e/pages/esm.html');
  const options = { worker: false, cache: { chunkBytes } };
  expect((await load(page, options)).text).toBe(EXPECTED);
  expect(await corruptChunk(page, 2)).toBe(chunkBytes);

  ranges.length = 0;
  await page.reload();
  const repaired = await load(page, options);
  expect(repaired.error).toBeUndefined();
  expect(repaired.text).toBe(EXPECTED);
  expect(ranges).toEqual([`bytes=${2 * chunkBytes}-${3 * chunkBytes - 1}`]);

  ranges.length = 0;
  await page.reload();
  expect((await load(page, options)).text).toBe(EXPECTED);
  expect(ranges).toEqual([]);
  // Each of the three loads hashed its 8 chunks with the helper's help (none runs the engine: worker: false).
  expect(await Promise.all(helpers)).toEqual(['inpage-sha256', 'inpage-sha256', 'inpage-sha256']);
});

test('no room for the cache is a clear QuotaExceeded error; cache: false still works', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(navigator.storage, 'estimate', { value: async () => ({ quota: 500_000, usage: 400_000 }) });
  });
  const ranges = await routeModel(page);
  await page.goto('/e2e/pages/esm.html');
  const refused = await load(page, { worker: false });
  expect(refused.error).toMatchObject({ code: 'QuotaExceeded', neededBytes: MODEL_SIZE, availableBytes: 100_000 });
  expect(refused.error!.message).toContain(`${MODEL_SIZE} bytes`);
  expect(refused.error!.message).toContain('100000 bytes');
  expect(refused.error!.message).toContain('cache: false');
  expect(refused.entries).toEqual([]);

  ranges.length = 0;
  const uncached = await load(page, { worker: false, cache: false });
  expect(uncached.error).toBeUndefined();
  expect(uncached.text).toBe(EXPECTED);
  expect(uncached.entries).toEqual([]);
  expect(ranges.length).toBeGreaterThan(0);
});

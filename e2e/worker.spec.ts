// The engine in a dedicated Web Worker (the default in browsers), in Chromium on SwiftShader, on pages
// under the strict CSP of scripts/serve.mjs: loadModel({ url }) with default options starts
// dist/inpage.worker.js (seen by Playwright as a worker), greedy text equals the recorded exact reference,
// streaming, abort and typed errors cross the boundary, the main thread has no long task while the model
// generates, the worker is found from the ES module build, the script-tag build, a configured location, and
// a Vite app that installs the `npm pack` tarball; a worker that crashes fails its requests with a typed error.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';

const reference = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};
const MODEL = '/public/models/fortunes-1.8m-q4_0.gguf';

/**
 * Records the page's workers and its CSP violations. `workers()`: the URLs of the workers that ran the engine,
 * leaving out the weight cache's SHA-256 helper (a nested worker named 'inpage-sha256').
 */
async function open(page: Page, path: string): Promise<{ workers: () => Promise<string[]>; violations: () => Promise<string[]> }> {
  const named: Promise<{ url: string; name: string }>[] = [];
  const console: string[] = [];
  page.on('worker', (w) => {
    named.push(w.evaluate(() => (self as unknown as { name: string }).name).catch(() => '?').then((name) => ({ url: w.url(), name })));
  });
  const workers = async () => (await Promise.all(named)).filter((w) => w.name !== 'inpage-sha256').map((w) => w.url);
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) console.push(m.text());
  });
  await page.goto(path);
  await page.evaluate(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      ((window as unknown as { __csp: string[] }).__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const violations = async () => [...console, ...(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []))];
  return { workers, violations };
}

/** In a page that loaded the script-tag build: the default loadModel (a worker), one greedy completion, unload. */
function greedyWithGlobal(page: Page, prompt: string): Promise<{ text: string; runtime: string }> {
  return page.evaluate(async ({ MODEL, prompt }) => {
    const inpage = (window as unknown as { inpage: { loadModel: (o: object) => Promise<any> } }).inpage;
    const llm = await inpage.loadModel({ url: MODEL });
    const text = (await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text;
    const runtime = llm.info.runtime;
    await llm.unload();
    return { text, runtime };
  }, { MODEL, prompt });
}

test('ESM build: the default loadModel runs in a worker; reference text, streaming, abort and typed errors cross', async ({ page }) => {
  const { workers, violations } = await open(page, '/e2e/pages/esm.html');
  const prompts = reference.prompts.map((p) => p.prompt);
  const r = await page.evaluate(async ({ prompts, MODEL }) => {
    const inpage = await import('/dist/inpage.js' as string);
    const phases: string[] = [];
    const llm = await inpage.loadModel({ url: MODEL, onProgress: (e: { phase: string }) => phases.push(e.phase) });
    const texts: string[] = [];
    for (const prompt of prompts) texts.push((await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text);

    // Streaming: the chunks add up to the same text.
    const chunks: { text: string; finish: string | null; usage: unknown }[] = [];
    for await (const c of await llm.completions.create({ prompt: prompts[0], max_tokens: 32, temperature: 0, stream: true })) {
      chunks.push({ text: c.choices[0].text, finish: c.choices[0].finish_reason, usage: c.usage });
    }

    // Abort mid-generation, then a new request. The sampled text must not end on its own before the abort:
    // <|endoftext|> (id 1023, the fixture's EOS: shared/models/fortunes-1.8m) is banned.
    const ac = new AbortController();
    let received = 0;
    let aborted: { name: string; code: string; isAbortError: boolean; isInpageError: boolean } | undefined;
    try {
      for await (const _ of await llm.completions.create({ prompt: 'Once', max_tokens: 200, temperature: 0.8, logit_bias: { 1023: -100 }, stream: true, signal: ac.signal })) {
        if (++received === 5) ac.abort();
      }
    } catch (e) {
      aborted = { name: (e as Error).name, code: (e as { code: string }).code, isAbortError: e instanceof inpage.AbortError, isInpageError: e instanceof inpage.InpageError };
    }
    const afterAbort = (await llm.completions.create({ prompt: prompts[1], max_tokens: 32, temperature: 0 })).choices[0].text;

    // A prompt longer than the context window: ContextOverflow, as the same class.
    const long = 'the '.repeat(300);
    let overflow: Record<string, unknown> | undefined;
    try {
      await llm.completions.create({ prompt: long, max_tokens: 8 });
    } catch (e) {
      const err = e as { name: string; code: string; message: string; promptTokens: number; contextLength: number };
      overflow = { name: err.name, code: err.code, message: err.message, promptTokens: err.promptTokens, contextLength: err.contextLength, isClass: e instanceof inpage.ContextOverflowError };
    }
    const info = llm.info;
    const longTokens = llm.tokenizer.encode(long).length;
    await llm.unload();
    return { texts, chunks, received, aborted, afterAbort, overflow, info, longTokens, phases };
  }, { prompts, MODEL });

  expect(r.info.runtime).toBe('worker');
  expect((await workers()).map((u) => new URL(u).pathname)).toEqual(['/dist/inpage.worker.js']);
  expect(r.phases.length).toBeGreaterThan(2);
  expect(r.phases.at(-1)).toBe('ready');
  r.texts.forEach((t, i) => expect(t, reference.prompts[i]!.prompt).toBe(reference.prompts[i]!.text_until_eos));

  expect(r.chunks.map((c) => c.text).join('')).toBe(reference.prompts[0]!.text_until_eos);
  expect(r.chunks.length).toBeGreaterThan(3);
  expect(r.chunks.at(-1)!.finish).not.toBeNull();
  expect(r.chunks.at(-1)!.usage).toBeTruthy();

  expect(r.aborted).toEqual({ name: 'AbortError', code: 'Aborted', isAbortError: true, isInpageError: true });
  expect(r.received).toBeLessThan(40);
  expect(r.afterAbort).toBe(reference.prompts[1]!.text_until_eos);

  expect(r.longTokens).toBeGreaterThanOrEqual(300);
  expect(r.overflow).toEqual({
    name: 'ContextOverflowError', code: 'ContextOverflow', isClass: true, promptTokens: r.longTokens, contextLength: r.info.contextLength,
    message: `the prompt is ${r.longTokens} tokens but the context holds ${r.info.contextLength}; shorten it or load the model with a larger context`,
  });
  expect(r.info.contextLength).toBe(256);
  expect(await violations()).toEqual([]);
});

test('the main thread has no long task while the model generates in the worker', async ({ page }, info) => {
  await open(page, '/e2e/pages/esm.html');
  const measure = (worker: boolean) =>
    page.evaluate(async ({ MODEL, worker }) => {
      const inpage = await import('/dist/inpage.js' as string);
      const llm = await inpage.loadModel({ url: MODEL, worker });
      // Warm up (pipelines are created on first use), then measure a streamed and a whole generation.
      await llm.completions.create({ prompt: 'Once', max_tokens: 4, temperature: 0 });
      const entries: { start: number; duration: number }[] = [];
      const observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) entries.push({ start: e.startTime, duration: e.duration });
      });
      observer.observe({ type: 'longtask' });
      // A 4 ms ticker, for the report: the largest gap between ticks (on these shared CPU-only machines it
      // also counts time the renderer was not scheduled, so it is recorded, not asserted).
      let last = performance.now();
      let maxGap = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 4);
      const t0 = performance.now();
      let tokens = 0;
      for await (const c of await llm.completions.create({ prompt: 'A man walks into a bar', max_tokens: 64, temperature: 0.7, seed: 3, stream: true })) {
        if (c.choices[0].text) tokens++;
      }
      tokens += (await llm.completions.create({ prompt: 'Computers are', max_tokens: 64, temperature: 0.7, seed: 4 })).usage.completion_tokens;
      const t1 = performance.now();
      clearInterval(ticker);
      await new Promise((r) => setTimeout(r, 200)); // long-task entries arrive asynchronously
      // Positive control: the observer does see a task that holds the main thread for 80 ms.
      const c0 = performance.now();
      while (performance.now() - c0 < 80);
      await new Promise((r) => setTimeout(r, 200));
      observer.disconnect();
      const runtime = llm.info.runtime;
      await llm.unload();
      return {
        runtime, tokens, ms: t1 - t0, maxGap,
        long: entries.filter((e) => e.start + e.duration > t0 && e.start < t1),
        control: entries.filter((e) => e.start + e.duration > c0 && e.duration >= 75).length,
      };
    }, { MODEL, worker });

  const inWorker = await measure(true);
  const inThread = await measure(false);
  info.annotations.push({
    type: 'main thread during generation',
    description: `worker: ${inWorker.tokens} tokens in ${inWorker.ms.toFixed(0)} ms, ${inWorker.long.length} long tasks, largest gap ${inWorker.maxGap.toFixed(0)} ms; ` +
      `in-thread: ${inThread.tokens} tokens in ${inThread.ms.toFixed(0)} ms, ${inThread.long.length} long tasks (longest ${Math.max(0, ...inThread.long.map((e) => e.duration)).toFixed(0)} ms), largest gap ${inThread.maxGap.toFixed(0)} ms`,
  });
  console.log(info.annotations.at(-1)!.description);
  expect(inWorker.runtime).toBe('worker');
  expect(inThread.runtime).toBe('in-thread');
  expect(inWorker.tokens).toBeGreaterThan(32);
  expect(inWorker.control).toBe(1);
  expect(inWorker.long).toEqual([]);
});

test('script-tag build: a plain <script src> page runs the model in a worker next to the script', async ({ page }) => {
  const { workers, violations } = await open(page, '/e2e/pages/iife.html');
  const { prompt, text_until_eos } = reference.prompts[2]!;
  const r = await greedyWithGlobal(page, prompt);
  expect(r).toEqual({ text: text_until_eos, runtime: 'worker' });
  expect((await workers()).map((u) => new URL(u).pathname)).toEqual(['/dist/inpage.worker.js']);
  expect(await violations()).toEqual([]);
});

test('from another origin (a CDN): the script-tag and ES module builds start the worker through a blob', async ({ page }) => {
  // Two origins: a site whose page (CSP: scripts from itself and the CDN) loads inpage from a CDN that
  // serves dist/ with CORS, as jsDelivr or unpkg do. The site serves the model with Range support.
  const dist = new URL('../dist/', import.meta.url).pathname;
  const model = new URL(`..${MODEL}`, import.meta.url).pathname;
  const cdn = createServer((req, res) => {
    const file = `${dist}${new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '')}`;
    if (file.includes('..') || !existsSync(file)) return void res.writeHead(404).end();
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    res.writeHead(200, { 'Content-Type': type, 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => cdn.listen(0, '127.0.0.1', r));
  const cdnOrigin = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
  // connect-src names the CDN too: on the WASM backend (what 'auto' picks on this software adapter)
  // onnxruntime-web fetches its .wasm from dist/ort/ on the CDN. A site using the CDN build needs the same.
  const csp = `default-src 'self'; script-src 'self' ${cdnOrigin} 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self' ${cdnOrigin}`;
  const site = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/page.html') {
      return void res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Security-Policy': csp })
        .end(`<!doctype html><meta charset="utf-8"><script src="${cdnOrigin}/inpage.iife.js"></script><p>a page using the CDN build</p>`);
    }
    if (path !== '/model.gguf') return void res.writeHead(404).end();
    const size = statSync(model).size;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(size - 1, Number(m[2])) : size - 1;
    res.writeHead(m ? 206 : 200, { 'Content-Type': 'application/octet-stream', 'Content-Length': end - start + 1, ...(m ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}) });
    createReadStream(model, { start, end }).pipe(res);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  try {
    const { workers, violations } = await open(page, `http://127.0.0.1:${(site.address() as AddressInfo).port}/page.html`);
    const { prompt, text_until_eos } = reference.prompts[5]!;
    const r = await page.evaluate(async ({ prompt, cdnOrigin }) => {
      const run = async (inpage: { loadModel: (o: object) => Promise<any> }) => {
        const llm = await inpage.loadModel({ url: '/model.gguf', worker: true });
        const text = (await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text;
        await llm.unload();
        return text;
      };
      const iife = await run((window as unknown as { inpage: { loadModel: (o: object) => Promise<any> } }).inpage);
      const esm = await run(await import(`${cdnOrigin}/inpage.js`));
      return { iife, esm };
    }, { prompt, cdnOrigin });
    expect(r).toEqual({ iife: text_until_eos, esm: text_until_eos });
    expect(await workers()).toHaveLength(2);
    expect((await workers()).every((u) => u.startsWith('blob:'))).toBe(true);
    expect(await violations()).toEqual([]);
  } finally {
    cdn.close();
    site.close();
  }
});

test('the worker location can be configured; a missing worker fails with worker: true and falls back by default', async ({ page }) => {
  const { workers } = await open(page, '/e2e/pages/esm.html');
  const r = await page.evaluate(async (MODEL) => {
    const inpage = await import('/dist/inpage.js' as string);
    const viaBase = await inpage.loadModel({ url: MODEL, baseUrl: '/dist' });
    const base = { runtime: viaBase.info.runtime, text: (await viaBase.completions.create({ prompt: '42 is', max_tokens: 16, temperature: 0 })).choices[0].text };
    await viaBase.unload();
    let strict: Record<string, unknown> | undefined;
    try {
      await inpage.loadModel({ url: MODEL, workerUrl: '/dist/no-such-worker.js', worker: true });
    } catch (e) {
      strict = { code: (e as { code: string }).code, message: (e as Error).message };
    }
    const fallback = await inpage.loadModel({ url: MODEL, workerUrl: '/dist/no-such-worker.js' });
    const fb = { runtime: fallback.info.runtime, reason: fallback.info.runtimeReason };
    await fallback.unload();
    return { base, strict, fb };
  }, MODEL);
  expect(r.base.runtime).toBe('worker');
  expect(r.base.text).toBe(reference.prompts[11]!.text_until_eos.slice(0, r.base.text.length));
  expect(r.strict?.code).toBe('NetworkError');
  expect(r.strict?.message).toContain('/dist/no-such-worker.js');
  expect(r.fb.runtime).toBe('in-thread');
  expect(r.fb.reason).toMatch(/did not start/);
  expect((await workers()).map((u) => new URL(u).pathname)).toContain('/dist/inpage.worker.js');
});

test('a worker that crashes: requests in flight reject with WorkerCrashedError, and so does every later call', async ({ page }) => {
  // e2e/pages/crash-worker.js is the real worker plus a trap that throws an uncaught error when a request
  // with the prompt CRASH-THE-WORKER arrives, while a long generation is still running.
  const { workers } = await open(page, '/e2e/pages/esm.html');
  const r = await page.evaluate(async (MODEL) => {
    const inpage = await import('/dist/inpage.js' as string);
    const outcome = async (p: Promise<unknown>) => {
      try {
        await p;
        return 'resolved';
      } catch (e) {
        return { name: (e as Error).name, code: (e as { code: string }).code, isClass: e instanceof inpage.WorkerCrashedError, message: (e as Error).message };
      }
    };
    const llm = await inpage.loadModel({ url: MODEL, workerUrl: '/e2e/pages/crash-worker.js', worker: true });
    const before = (await llm.completions.create({ prompt: '42 is', max_tokens: 8, temperature: 0 })).choices[0].text;
    // A long generation, in flight (its first chunk has arrived) when the crash comes; EOS (1023) is banned so
    // that it cannot end on its own first.
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const long = outcome((async () => {
      for await (const _ of await llm.completions.create({ prompt: 'Once', max_tokens: 250, temperature: 0.8, logit_bias: { 1023: -100 }, stream: true })) started();
    })());
    await running;
    const t0 = performance.now();
    const [inFlight, trigger] = await Promise.all([long, outcome(llm.completions.create({ prompt: 'CRASH-THE-WORKER', max_tokens: 4 }))]);
    const ms = performance.now() - t0;
    const later = await outcome(llm.completions.create({ prompt: '42 is', max_tokens: 4 }));
    const unload = await outcome(llm.unload());
    return { runtime: llm.info.runtime, before, inFlight, trigger, later, unload, ms };
  }, MODEL);
  expect(r.runtime).toBe('worker');
  expect(r.before.length).toBeGreaterThan(0);
  for (const e of [r.inFlight, r.trigger, r.later]) {
    expect(e).toMatchObject({ name: 'WorkerCrashedError', code: 'WorkerCrashed', isClass: true });
    expect((e as { message: string }).message).toContain('injected crash');
  }
  expect(r.unload).toBe('resolved');
  expect(r.ms).toBeLessThan(20_000); // the rejection follows the crash, not a timeout
  expect((await workers()).map((u) => new URL(u).pathname)).toEqual(['/e2e/pages/crash-worker.js']);
});

test('npm pack: a fresh Vite app installs the tarball, typechecks against its types and runs it; its IIFE runs from a static page', async ({ page }) => {
  test.setTimeout(240_000);
  // The package as a user gets it: `npm pack` (scripts skipped: dist/ is built before the browser tests),
  // unpacked into a new app's node_modules/inpage outside this repository, which is exactly what
  // `npm install inpage-x.y.z.tgz` puts there, minus the dependencies. Leaving those out is the point: the
  // app is built and run without them, which shows dist/ is self-contained at run time. They are linked in
  // for the typecheck only (first), because the published types import a few of them, as an install would.
  const repo = new URL('..', import.meta.url).pathname;
  const tmp = mkdtempSync(join(tmpdir(), 'inpage-pack-'));
  const served = `${repo}node_modules/.cache/inpage-e2e-app/`; // under the repository, so serve.mjs serves it
  rmSync(served, { recursive: true, force: true });
  try {
    const packed = (JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string; size: number; files: { path: string; size: number }[] }[])[0]!;
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/inpage.js', 'dist/inpage.iife.js', 'dist/inpage.worker.js', 'dist/types/index.d.ts']));
    expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f))).toEqual([]);
    expect(files.filter((f) => /\.(gguf|onnx|safetensors|bin)$/.test(f))).toEqual([]); // no demo models in the package
    // Every script a page loads stays small: the library's own bundles are well under a MiB, and
    // onnxruntime-web's WASM belongs in dist/ort/*.wasm, fetched only when used, never inlined into a script.
    const bigScripts = packed.files.filter((f) => /\.m?js$/.test(f.path) && f.size > 8 << 20).map((f) => f.path);
    expect(bigScripts).toEqual([]);

    const app = `${tmp}/app/`;
    const pkg = `${app}node_modules/inpage/`;
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', join(tmp, packed.filename), '-C', pkg, '--strip-components=1']);
    const manifest = JSON.parse(readFileSync(`${pkg}package.json`, 'utf8')) as { exports: Record<string, Record<string, string> | string>; dependencies: Record<string, string> };
    expect(manifest.exports['.']).toEqual({ types: './dist/types/index.d.ts', import: './dist/inpage.js' });
    writeFileSync(`${app}package.json`, JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { inpage: `file:../${packed.filename}` } }, null, 2));
    writeFileSync(`${app}index.html`, '<!doctype html><meta charset="utf-8"><title>app</title><script type="module" src="./main.ts"></script>\n');
    writeFileSync(`${app}main.ts`, [
      "import { loadModel, WorkerCrashedError, type LanguageModel, type LoadModelOptions } from 'inpage';",
      'async function complete(options: LoadModelOptions, prompt: string): Promise<{ text: string; runtime: string }> {',
      '  const llm: LanguageModel = await loadModel(options);',
      '  const r = await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 });',
      '  const runtime = llm.info.runtime;',
      '  await llm.unload();',
      '  return { text: r.choices[0]!.text, runtime };',
      '}',
      '(window as unknown as { app: object }).app = { complete, crashCode: new WorkerCrashedError("x").code };',
      '',
    ].join('\n'));
    // Uses of the types that only compile if they are the real ones (an unresolved type is `any`, and then
    // each @ts-expect-error below is itself an error).
    writeFileSync(`${app}types.ts`, [
      "import { cache, loadModel, InpageError, type CacheEntry, type ChatCompletionChunk, type LanguageModel, type LoadProgressEvent } from 'inpage';",
      'export async function use(llm: LanguageModel): Promise<string> {',
      '  const entries: CacheEntry[] = await cache.list();',
      '  const onProgress = (e: LoadProgressEvent) => e.phase === "gpu-upload" && e.loadedBytes / e.totalBytes;',
      "  await loadModel({ url: '/m.gguf', cache: { chunkBytes: 1 << 20 }, worker: true, onProgress });",
      '  let text = String(entries.length);',
      "  for await (const c of await llm.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], stream: true })) {",
      '    const chunk: ChatCompletionChunk = c;',
      "    text += chunk.choices[0]?.delta.content ?? '';",
      '  }',
      '  // @ts-expect-error url is a string',
      '  await loadModel({ url: 42 });',
      '  // @ts-expect-error no such option',
      "  await loadModel({ url: '/m.gguf', contextLenght: 64 });",
      "  const r = await llm.completions.create({ prompt: 'x', max_tokens: 4 });",
      '  // @ts-expect-error text is a string',
      '  const n: number = r.choices[0]!.text;',
      "  try { await llm.logits([1]); } catch (e) { if (e instanceof InpageError && e.code === 'WorkerCrashed') text += n; }",
      '  return text;',
      '}',
      '',
    ].join('\n'));
    // Typecheck the app against the package's types, strictly (skipLibCheck off, so the .d.ts files are
    // checked too), with the package's declared dependencies present as an install would have them.
    const linked = Object.keys(manifest.dependencies).map((dep) => `${app}node_modules/${dep}`);
    for (const link of linked) {
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(`${repo}node_modules/${link.slice(`${app}node_modules/`.length)}`, link, 'dir');
    }
    writeFileSync(`${app}tsconfig.json`, JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        strict: true, noEmit: true, skipLibCheck: false, types: [],
      },
      include: ['main.ts', 'types.ts'],
    }));
    const tsc = spawnSync(process.execPath, [`${repo}node_modules/typescript/bin/tsc`, '-p', app], { encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
    for (const link of linked) rmSync(link); // gone again before the build: the bundles must not need them
    const { build } = await import('vite');
    await build({ root: app, base: './', configFile: false, logLevel: 'warn', build: { outDir: `${served}dist`, emptyOutDir: true } });

    // The script-tag build from the installed package on a plain HTML page: no bundler, no module script.
    cpSync(`${pkg}dist`, `${served}static/inpage`, { recursive: true });
    writeFileSync(`${served}static/index.html`, '<!doctype html><meta charset="utf-8"><title>static</title><script src="./inpage/inpage.iife.js"></script>\n');

    const { workers, violations } = await open(page, '/node_modules/.cache/inpage-e2e-app/dist/index.html');
    await page.waitForFunction(() => 'app' in window);
    const { prompt, text_until_eos } = reference.prompts[4]!;
    const r = await page.evaluate(async ({ MODEL, prompt }) => {
      const app = (window as unknown as { app: { complete: (o: object, p: string) => Promise<{ text: string; runtime: string }>; crashCode: string } }).app;
      return { ...(await app.complete({ url: MODEL }, prompt)), crashCode: app.crashCode };
    }, { MODEL, prompt });
    expect(r).toEqual({ text: text_until_eos, runtime: 'worker', crashCode: 'WorkerCrashed' });
    // Vite emitted the worker into the app's own assets.
    expect(await workers()).toHaveLength(1);
    expect(new URL((await workers())[0]!).pathname).toMatch(/^\/node_modules\/\.cache\/inpage-e2e-app\/dist\/assets\/inpage\.worker-[\w-]+\.js$/);
    expect(await violations()).toEqual([]);

    const staticPage = await open(page, '/node_modules/.cache/inpage-e2e-app/static/index.html');
    const s = await greedyWithGlobal(page, prompt);
    expect(s).toEqual({ text: text_until_eos, runtime: 'worker' });
    expect((await staticPage.workers()).map((u) => new URL(u).pathname)).toEqual(['/node_modules/.cache/inpage-e2e-app/static/inpage/inpage.worker.js']);
    expect(await staticPage.violations()).toEqual([]);

  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

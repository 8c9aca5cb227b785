/**
 * loadModel through the weight cache, in Node on Dawn (SwiftShader) with fake-indexeddb: the built-in model
 * served by a local node:http server on 127.0.0.1. The reference is the recorded exact reference
 * (shared/models/fortunes-1.8m/reference/exact-q4_0.json: weights dequantized per the GGUF spec, float64
 * forward pass): every load through the cache must give its greedy text, and a cached reload no request.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { get as idbGet, set as idbSet } from 'idb-keyval';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadProgressEvent } from '../../src/llm/load_model';
import { loadModel } from '../../src/runtime/load';
import { cache } from '../../src/runtime/cache';
import { chunkKey, manifestKey, weightStore, type Manifest } from '../../src/runtime/cache/store';
import { nodeGPU } from '../gpu';

const bytes = new Uint8Array(readFileSync(new URL('../../public/models/fortunes-1.8m-q4_0.gguf', import.meta.url)));
const CHUNK = 128 * 1024;
let server: Server;
let url = '';
let requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.headers.range ?? '(no range)');
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m || requests.length > 500) return void res.writeHead(m ? 500 : 200, { 'Content-Length': 0 }).end();
    const start = Number(m[1]);
    const end = m[2] ? Math.min(bytes.length, Number(m[2]) + 1) : bytes.length;
    res.writeHead(206, { 'Content-Length': end - start, 'Content-Range': `bytes ${start}-${end - 1}/${bytes.length}`, ETag: '"fortunes"' });
    res.end(bytes.subarray(start, end));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fortunes-1.8m-q4_0.gguf`;
  setTimeout(() => server.closeAllConnections(), 170_000).unref();
  await cache.clear();
});

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

const reference = JSON.parse(readFileSync(new URL('../../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};
const PROMPTS = reference.prompts.slice(0, 2).map((p) => p.prompt);
const EXPECTED = reference.prompts.slice(0, 2).map((p) => p.text_until_eos);

async function run(options: Parameters<typeof loadModel>[0]): Promise<{ texts: string[]; events: LoadProgressEvent[] }> {
  const events: LoadProgressEvent[] = [];
  const llm = await loadModel({ gpu: nodeGPU(), ...options, onProgress: (e) => events.push(e) });
  const texts: string[] = [];
  for (const prompt of PROMPTS) texts.push((await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0]!.text);
  await llm.unload();
  return { texts, events };
}

describe('loadModel with the weight cache', () => {
  it('downloads once into the cache, then reloads with no request; text equals the exact reference', async () => {
    const first = await run({ url, cache: { chunkBytes: CHUNK, storage: null } });
    expect(first.texts).toEqual(EXPECTED);
    expect(requests).toEqual(['bytes=0-']);
    const phases = new Set(first.events.map((e) => e.phase));
    expect([...phases]).toEqual(expect.arrayContaining(['download', 'metadata', 'gpu-upload', 'ready']));
    const lastDownload = first.events.filter((e) => e.phase === 'download').pop()!;
    expect(lastDownload).toMatchObject({ loadedBytes: bytes.length, totalBytes: bytes.length, etaSeconds: 0 });
    expect(first.events[first.events.length - 1]!.phase).toBe('ready');
    expect(first.events.filter((e) => e.phase === 'gpu-upload').every((e) => typeof e.rate === 'number')).toBe(true);
    expect(await cache.list()).toMatchObject([{ url, size: bytes.length, storedBytes: bytes.length, complete: true }]);

    requests = [];
    const second = await run({ url, cache: true });
    expect(requests).toEqual([]);
    expect(second.texts).toEqual(EXPECTED);
    const reads = second.events.filter((e) => e.phase === 'cache-read');
    expect(reads.pop()).toMatchObject({ loadedBytes: bytes.length, totalBytes: bytes.length });
    expect(second.events.some((e) => e.phase === 'download')).toBe(false);

    // A corrupted chunk: detected, fetched again (its range only), same text.
    const m = (await idbGet(manifestKey(url), weightStore())) as Manifest;
    const bad = new Uint8Array(await ((await idbGet(chunkKey(m, 3), weightStore())) as Blob).arrayBuffer());
    bad[77] ^= 0x5a;
    await idbSet(chunkKey(m, 3), new Blob([bad]), weightStore());
    requests = [];
    const third = await run({ url });
    expect(third.texts).toEqual(EXPECTED);
    expect(requests).toEqual([`bytes=${3 * CHUNK}-${4 * CHUNK - 1}`]);
  });
});

// The browser side of bench/cache.ts: each export is one measurement, run in a page served by
// scripts/serve.mjs, with the library from /dist/inpage.js. Times are performance.now() differences in ms;
// the checks' inputs (digests, byte counts, texts) are returned for bench/cache.ts to compare.

const inpage = () => import('/dist/inpage.js');

/**
 * CPU time used so far by the whole machine (every process: the server, the browser's processes, the GPU's
 * software renderer), in ms, from /proc/stat through a function bench/cache.ts exposes to the page.
 */
const cpuBusyMs = () => globalThis.__cpuBusyMs();

async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function openDb() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open('inpage-cache');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** The key range of every chunk record of `url` (see src/runtime/cache/store.ts). */
const chunksOf = (url) => {
  const abs = new URL(url, location.href).href;
  return IDBKeyRange.bound(['c', abs], ['c', abs, []]);
};

/** Plain fetch of the whole file; the bytes are hashed after the clock stops. */
export async function plainFetch(url) {
  const c0 = await cpuBusyMs();
  const t0 = performance.now();
  const r = await fetch(url, { cache: 'no-store' });
  const buf = await r.arrayBuffer();
  const ms = performance.now() - t0;
  const cpuMs = (await cpuBusyMs()) - c0;
  return { ms, cpuMs, bytes: buf.byteLength, sha256: await sha256Hex(buf) };
}

/** cache.prefetch on an empty cache; then the stored chunk records, concatenated, are hashed (not timed). */
export async function cacheDownload(url) {
  const { cache } = await inpage();
  await cache.clear();
  const c0 = await cpuBusyMs();
  const t0 = performance.now();
  const entry = await cache.prefetch(url);
  const ms = performance.now() - t0;
  const cpuMs = (await cpuBusyMs()) - c0;
  const db = await openDb();
  const blobs = await request(db.transaction('weights').objectStore('weights').getAll(chunksOf(url)));
  db.close();
  const all = await new Blob(blobs).arrayBuffer();
  return { ms, cpuMs, entry: { size: entry.size, complete: entry.complete, chunks: entry.chunks }, sha256: await sha256Hex(all) };
}

/**
 * Every chunk record read back (Blob → bytes), one transaction each, `inFlight` at a time in file order (as
 * the cache reads them: the chunk being read and READ_AHEAD_CHUNKS ahead), with no hashing.
 */
export async function idbRead({ url, inFlight }) {
  const db = await openDb();
  const keys = await request(db.transaction('weights').objectStore('weights').getAllKeys(chunksOf(url)));
  const c0 = await cpuBusyMs();
  const t0 = performance.now();
  let bytes = 0;
  let next = 0;
  const lane = async () => {
    while (next < keys.length) {
      const blob = await request(db.transaction('weights').objectStore('weights').get(keys[next++]));
      const n = (await blob.arrayBuffer()).byteLength;
      bytes += n;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const ms = performance.now() - t0;
  const cpuMs = (await cpuBusyMs()) - c0;
  db.close();
  return { ms, cpuMs, bytes };
}

/**
 * The file's bytes (fetched first, not timed) written to storage buffers of at most 128 MiB in 4 MiB
 * writeBuffer calls, as the engine streams weights, until the queue has done the work. With `check`, the
 * buffers are read back and compared with the bytes (every 4093rd byte and the last).
 */
export async function gpuUpload({ url, check }) {
  const bytes = new Uint8Array(await (await fetch(url, { cache: 'no-store' })).arrayBuffer());
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter.requestDevice();
  const MAX = 128 << 20;
  const PIECE = 4 << 20;
  const size = bytes.length - (bytes.length % 4);
  const c0 = await cpuBusyMs();
  const t0 = performance.now();
  const buffers = [];
  for (let at = 0; at < size; at += MAX) {
    const n = Math.min(MAX, size - at);
    const b = device.createBuffer({ size: n, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    // Each write waited for before the next: first thing in a new document (as on a page reload), queueing
    // all 69 MiB at once took 106–118 ms against 56–68 ms this way (later in a document both took ~55 ms).
    for (let o = 0; o < n; o += PIECE) {
      device.queue.writeBuffer(b, o, bytes, at + o, Math.min(PIECE, n - o));
      await device.queue.onSubmittedWorkDone();
    }
    buffers.push(b);
  }
  await device.queue.onSubmittedWorkDone();
  const ms = performance.now() - t0;
  const cpuMs = (await cpuBusyMs()) - c0;
  let matches;
  if (check) {
    matches = true;
    for (let i = 0; i < buffers.length; i++) {
      const n = buffers[i].size;
      const read = device.createBuffer({ size: n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(buffers[i], 0, read, 0, n);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const got = new Uint8Array(read.getMappedRange());
      const want = bytes.subarray(i * MAX, i * MAX + n);
      for (let k = 0; k < n; k += 4093) if (got[k] !== want[k]) matches = false;
      if (got[n - 1] !== want[n - 1]) matches = false;
      read.destroy();
    }
  }
  device.destroy();
  return { ms, cpuMs, bytes: size, matches };
}

/**
 * loadModel to ready (its promise resolving), and to the weights on the GPU (the 'shader-compile' progress
 * event), then one greedy completion for the check. how: 'cache' (a
 * URL through the cache, in this thread), 'bytes' (from memory, no cache), 'worker' (a URL, default runtime).
 */
export async function load({ url, how }) {
  const { loadModel } = await inpage();
  const phases = new Set();
  // The weights are on the GPU when shader compilation starts (the phases after it do not touch the cache).
  let onGpu;
  const onProgress = (e) => {
    phases.add(e.phase);
    if (e.phase === 'shader-compile' && !onGpu) onGpu = { ms: performance.now() - t0, cpuMs: cpuBusyMs() };
  };
  let options;
  if (how === 'bytes') options = { bytes: new Uint8Array(await (await fetch(url, { cache: 'no-store' })).arrayBuffer()), worker: false };
  else options = { url, cache: true, ...(how === 'worker' ? {} : { worker: false }) };
  const c0 = await cpuBusyMs();
  const t0 = performance.now();
  // Our WebGPU engine: 'auto' may choose onnxruntime-web's WASM on a software adapter such as SwiftShader.
  const llm = await loadModel({ ...options, backend: 'webgpu', onProgress });
  const ms = performance.now() - t0;
  const cpuMs = (await cpuBusyMs()) - c0;
  const text = (await llm.completions.create({ prompt: 'The cache', max_tokens: 8, temperature: 0 })).choices[0].text;
  const runtime = llm.info.runtime;
  await llm.unload();
  return { ms, cpuMs, toGpuMs: onGpu.ms, toGpuCpuMs: (await onGpu.cpuMs) - c0, text, phases: [...phases], runtime };
}

export async function clearCache() {
  await (await inpage()).cache.clear();
}

/** The file's bytes (fetched first, not timed) cut into the cache's chunks. */
async function chunksOfFile(url, chunkBytes) {
  const bytes = new Uint8Array(await (await fetch(url, { cache: 'no-store' })).arrayBuffer());
  const chunks = [];
  for (let at = 0; at < bytes.length; at += chunkBytes) chunks.push(bytes.slice(at, Math.min(bytes.length, at + chunkBytes)));
  return chunks;
}

/** SHA-256 of every chunk with crypto.subtle, 3 at a time (as many as the cache hashes while downloading). */
export async function hashOnly({ url, chunkBytes }) {
  const chunks = await chunksOfFile(url, chunkBytes);
  const c0 = await cpuBusyMs();
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < chunks.length) await crypto.subtle.digest('SHA-256', chunks[next++]);
  };
  await Promise.all([lane(), lane(), lane()]);
  const ms = performance.now() - t0;
  return { ms, cpuMs: (await cpuBusyMs()) - c0 };
}

/** Every chunk written as a Blob record in a transaction of its own (as the cache stores them), to a scratch database. */
export async function idbWriteOnly({ url, chunkBytes }) {
  const chunks = await chunksOfFile(url, chunkBytes);
  await request(indexedDB.deleteDatabase('inpage-bench-scratch'));
  const open = indexedDB.open('inpage-bench-scratch', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('s');
  const db = await request(open);
  const c0 = await cpuBusyMs();
  const t0 = performance.now();
  await Promise.all(chunks.map((c, i) => new Promise((resolve, reject) => {
    const tx = db.transaction('s', 'readwrite');
    tx.objectStore('s').put(new Blob([c]), i);
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  })));
  const ms = performance.now() - t0;
  const cpuMs = (await cpuBusyMs()) - c0;
  db.close();
  await request(indexedDB.deleteDatabase('inpage-bench-scratch'));
  return { ms, cpuMs };
}

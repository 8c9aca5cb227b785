// onnxruntime-web backends in Chromium, through the library build (dist/inpage.js, which loads
// onnxruntime-web lazily from dist/ort/). The model: the fortunes q4_0 GGUF exported to ONNX by our
// exporter, laid out as optimum / transformers.js folders are (config.json, generation_config.json,
// tokenizer.json, tokenizer_config.json, onnx/model.onnx + onnx/model.onnx_data), written under the
// gitignored e2e/.fixtures/ before the tests and served by the test server. Reference: onnxruntime-node
// (CPU) on the same files, run here in the test process; and the exact reference's recorded continuations.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import * as ortNode from 'onnxruntime-node';
import { HfTokenizer } from '../src/backends/ort/hf_tokenizer';
import { nodeLogits, optimumFolderFromGguf, writeFolder } from '../test/backends/optimum_fixture';

const FIXTURE = new URL('./.fixtures/fortunes-onnx/', import.meta.url).pathname;
const FOLDER_URL = '/e2e/.fixtures/fortunes-onnx/';
const exact = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; greedy_ids: number[]; text_until_eos: string }[];
};
const VOCAB = 1024;

let nodeSession: ortNode.InferenceSession;

test.beforeAll(async () => {
  rmSync(FIXTURE, { recursive: true, force: true });
  mkdirSync(FIXTURE, { recursive: true });
  writeFolder(FIXTURE, await optimumFolderFromGguf('q4_0'));
  nodeSession = await ortNode.InferenceSession.create(`${FIXTURE}onnx/model.onnx`);
});

/** onnxruntime-node greedy continuation (whole sequence re-run each step: no cache to get wrong). */
async function nodeGreedy(prompt: number[], n: number, eos: number): Promise<number[]> {
  const seq = [...prompt];
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const logits = await nodeLogits(nodeSession, seq);
    const row = logits.subarray((seq.length - 1) * VOCAB, seq.length * VOCAB);
    let best = 0;
    for (let j = 1; j < VOCAB; j++) if (row[j]! > row[best]!) best = j;
    if (best === eos) break;
    out.push(best);
    seq.push(best);
  }
  return out;
}

async function openPage(page: Page): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/e2e/pages/esm.html');
}

test('ONNX folder on the WebGPU EP: logits and greedy tokens agree with onnxruntime-node', async ({ page }) => {
  await openPage(page);
  const prompts = exact.prompts.slice(0, 2).map((p) => p.prompt);
  const got = await page.evaluate(async ({ url, prompts }) => {
    const inpage = await import('/dist/inpage.js' as string);
    const events: string[] = [];
    const ms: Record<string, number> = {};
    let t = performance.now();
    const lap = (name: string) => {
      ms[name] = Math.round(performance.now() - t);
      t = performance.now();
    };
    const llm = await inpage.loadOnnxModel({ url, backend: 'ort-webgpu', onProgress: (e: { phase: string; message: string }) => events.push(`${e.phase}: ${e.message}`) });
    lap('load');
    const ids: number[][] = prompts.map((p: string) => llm.tokenizer.encode(p));
    const rows: Float32Array[] = await llm.logits(ids[0]);
    lap('logits');
    const texts: string[] = [];
    for (const p of ids) {
      const r = await llm.completions.create({ prompt: p, max_tokens: 20, temperature: 0 });
      texts.push(r.choices[0].text);
      lap(`completion ${texts.length}`);
      ms[`decode tok/s ${texts.length}`] = Math.round(r.timings.decode_tokens_per_second * 10) / 10;
    }
    // Streaming on the same session after those requests (KV tensors reset / reused on the GPU).
    let streamed = '';
    for await (const c of await llm.completions.create({ prompt: ids[0], max_tokens: 20, temperature: 0, stream: true })) streamed += c.choices[0].text;
    // A follow-up that extends the streamed sequence: the cached prefix is kept (the GPU-resident KV cache is
    // truncated to it) and only the new tokens run.
    const follow = [...ids[0], ...llm.tokenizer.encode(texts[0], { addBos: false }).slice(0, 8)];
    const followText = (await llm.completions.create({ prompt: follow, max_tokens: 8, temperature: 0 })).choices[0].text;
    const info = { backend: llm.info.backend, reason: llm.info.backendReason, adapter: llm.info.adapter };
    await llm.unload();
    return { ids, logits: rows.map((r) => Array.from(r)), texts, streamed, follow, followText, info, events, ms };
  }, { url: FOLDER_URL, prompts });

  console.log(`ort-webgpu in Chromium (SwiftShader): ${JSON.stringify(got.ms)}`);
  expect(got.info.backend).toBe('ort-webgpu');
  expect(got.info.reason).toContain('requested');
  expect(got.events.some((e) => e.includes('backend ort-webgpu'))).toBe(true);

  // Logits at every prompt position vs onnxruntime-node. Tolerance: 1e-3 × the largest |logit| (the GPU's
  // f32 sums run in a different order than the CPU's; measured max error is printed).
  const want = await nodeLogits(nodeSession, got.ids[0]!);
  let maxDiff = 0;
  let scale = 0;
  got.logits.forEach((row, t) => row.forEach((v, j) => {
    maxDiff = Math.max(maxDiff, Math.abs(v - want[t * VOCAB + j]!));
    scale = Math.max(scale, Math.abs(want[t * VOCAB + j]!));
  }));
  console.log(`ort-webgpu vs onnxruntime-node: max |Δlogit| ${maxDiff.toExponential(2)} (max |logit| ${scale.toFixed(2)}) over ${got.logits.length} positions`);
  expect(got.logits.length).toBe(got.ids[0]!.length);
  expect(maxDiff).toBeLessThan(1e-3 * scale);

  // Greedy continuations: the browser's decode (KV cache fed back as GPU buffers) vs a cache-free CPU loop
  // in onnxruntime-node, compared as text (decoded here with the same tokenizer.json).
  const tokenizer = nodeTokenizer();
  for (let i = 0; i < prompts.length; i++) {
    const ref = await nodeGreedy(got.ids[i]!, 20, 1023);
    expect(got.texts[i], prompts[i]).toBe(tokenizer.decode(ref, { skipSpecial: true }));
  }
  expect(got.streamed).toBe(got.texts[0]);
  expect(got.followText).toBe(tokenizer.decode(await nodeGreedy(got.follow, 8, 1023), { skipSpecial: true }));
});

function nodeTokenizer(): HfTokenizer {
  const json = (name: string) => JSON.parse(readFileSync(`${FIXTURE}${name}`, 'utf8'));
  return new HfTokenizer(json('tokenizer.json'), json('tokenizer_config.json'), { vocabSize: VOCAB, bosId: 1023, eosIds: [1023] });
}

test.describe('backend auto without a usable GPU', () => {
  test('WebGPU missing: auto picks wasm, says why, and the ONNX folder gives onnxruntime-node’s logits', async ({ page }) => {
    // As in a browser without WebGPU: navigator.gpu is absent.
    await page.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
    });
    await openPage(page);
    const prompt = exact.prompts[0]!.prompt;
    const got = await page.evaluate(async ({ url, prompt }) => {
      const inpage = await import('/dist/inpage.js' as string);
      const hasGpu = 'gpu' in navigator && navigator.gpu !== undefined;
      const llm = await inpage.loadOnnxModel({ url });
      const ids: number[] = llm.tokenizer.encode(prompt);
      const rows: Float32Array[] = await llm.logits(ids);
      const r = await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 });
      const info = { backend: llm.info.backend, reason: llm.info.backendReason };
      await llm.unload();
      return { hasGpu, ids, last: Array.from(rows[rows.length - 1]!), text: r.choices[0].text, info };
    }, { url: FOLDER_URL, prompt });
    expect(got.hasGpu).toBe(false);
    expect(got.info).toEqual({ backend: 'wasm', reason: 'no WebGPU in this browser (navigator.gpu is missing)' });
    const want = await nodeLogits(nodeSession, got.ids);
    const T = got.ids.length;
    const maxDiff = got.last.reduce((m, v, j) => Math.max(m, Math.abs(v - want[(T - 1) * VOCAB + j]!)), 0);
    console.log(`wasm vs onnxruntime-node: max |Δlogit| ${maxDiff.toExponential(2)} at the last prompt position`);
    expect(maxDiff).toBeLessThan(1e-3);
    // The exact reference (float64, dequantized weights) on this prompt.
    expect(got.text).toBe(exact.prompts[0]!.text_until_eos);
  });

  test('SwiftShader (a software adapter): auto picks wasm with that reason; explicit ort-webgpu still allowed', async ({ page }) => {
    await openPage(page);
    const got = await page.evaluate(async () => {
      const inpage = await import('/dist/inpage.js' as string);
      const auto = await inpage.chooseBackend({ format: 'onnx' });
      const gguf = await inpage.chooseBackend({ format: 'gguf' });
      const explicit = await inpage.chooseBackend({ format: 'onnx', requested: 'ort-webgpu' });
      let webgpuOnnx: { code?: string; message?: string } = {};
      try {
        await inpage.chooseBackend({ format: 'onnx', requested: 'webgpu' });
      } catch (e) {
        webgpuOnnx = { code: (e as { code?: string }).code, message: (e as Error).message };
      }
      // The same GGUF and prompt on our kernels (SwiftShader) and on onnxruntime-web's WASM, for the record.
      const speed: Record<string, number> = {};
      const texts: Record<string, string> = {};
      for (const backend of ['webgpu', 'wasm']) {
        const llm = await inpage.loadModel({ url: '/public/models/fortunes-1.8m-q4_0.gguf', backend, worker: false });
        const r = await llm.completions.create({ prompt: 'Once upon a time', max_tokens: 32, temperature: 0 });
        speed[backend] = Math.round(r.timings.decode_tokens_per_second * 10) / 10;
        texts[backend] = r.choices[0].text;
        await llm.unload();
      }
      return { auto, gguf, explicit, webgpuOnnx, speed, texts };
    });
    console.log(`decode tok/s on this machine, fortunes q4_0 in Chromium: ${JSON.stringify(got.speed)}`);
    expect(got.texts.wasm).toBe(got.texts.webgpu);
    expect(got.auto).toMatchObject({ backend: 'wasm', reason: 'software adapter (SwiftShader): WASM is faster' });
    expect(got.auto.adapter).toMatchObject({ vendor: 'google', architecture: 'swiftshader', software: true });
    expect(got.gguf.backend).toBe('wasm');
    expect(got.explicit.backend).toBe('ort-webgpu');
    expect(got.webgpuOnnx.code).toBe('BackendUnavailable');
  });
});

test("a GGUF file on backend 'ort-webgpu' (exported to ONNX, KV cache on the GPU): the same greedy text as on 'wasm'", async ({ page }) => {
  await openPage(page);
  const got = await page.evaluate(async () => {
    const inpage = await import('/dist/inpage.js' as string);
    const out: Record<string, { text: string; backend: string; reason: string }> = {};
    for (const backend of ['ort-webgpu', 'wasm']) {
      const llm = await inpage.loadModel({ url: '/public/models/fortunes-1.8m-q4_0.gguf', backend, worker: false });
      const r = await llm.completions.create({ prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
      out[backend] = { text: r.choices[0].text, backend: llm.info.backend, reason: llm.info.backendReason };
      await llm.unload();
    }
    return out;
  });
  expect(got['ort-webgpu']!.backend).toBe('ort-webgpu');
  expect(got['ort-webgpu']!.reason).toContain('requested');
  expect(got.wasm!.backend).toBe('wasm');
  expect(got['ort-webgpu']!.text.length).toBeGreaterThan(0);
  expect(got['ort-webgpu']!.text).toBe(got.wasm!.text);
});

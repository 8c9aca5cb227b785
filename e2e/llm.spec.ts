// The LLM engine in Chromium (WebGPU on SwiftShader), loaded from the ES module build by URL under a strict
// CSP: the shipped fixture model, loaded from a URL with range reads, greedy continuations compared with
// the recorded exact reference (weights dequantized per the GGUF spec, float64 forward pass; llama.cpp
// cannot run in the browser, so the recorded references stand in here — Node tests run it live).
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

const reference = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};

test('greedy continuations in the browser equal the exact reference', async ({ page }) => {
  await page.goto('/e2e/pages/esm.html');
  const prompts = reference.prompts.map((p) => p.prompt);
  const texts = await page.evaluate(async (prompts) => {
    const inpage = await import('/dist/inpage.js' as string);
    // Our kernels, asked for by name: on SwiftShader 'auto' would pick onnxruntime-web's WASM (src/backends/choose.ts).
    const llm = await inpage.loadModel({ url: '/public/models/fortunes-1.8m-q4_0.gguf', backend: 'webgpu' });
    const out: string[] = [];
    for (const prompt of prompts) {
      const r = await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 });
      out.push(r.choices[0].text);
    }
    await llm.unload();
    return out;
  }, prompts);
  let equal = 0;
  texts.forEach((t, i) => {
    if (t === reference.prompts[i]!.text_until_eos) equal++;
  });
  expect(equal).toBe(prompts.length);
});

test('matvec kernels in the browser match a CPU reference for every weight type', async ({ page }) => {
  const { QUANT_TYPES, REFERENCE_BLOCKS, dequantizeMatrix, randomQuantMatrix } = await import('../test/reference/ggml_quants');
  await page.goto('/e2e/pages/esm.html');
  for (const type of QUANT_TYPES) {
    const rows = 37;
    const cols = REFERENCE_BLOCKS[type].values === 256 ? 512 : 96;
    const bytes = randomQuantMatrix(type, rows, cols, 17);
    const x = Array.from({ length: cols }, (_, i) => Math.sin(i * 0.37));
    const w = dequantizeMatrix(type, bytes, rows, cols);
    const expected = Array.from({ length: rows }, (_, r) => x.reduce((s, v, k) => s + v * w[r * cols + k]!, 0));
    const got = await page.evaluate(async ({ type, rows, cols, bytes, x }) => {
      const inpage = await import('/dist/inpage.js' as string);
      const gpu = await inpage.acquireGpu();
      const weight = inpage.ops.uploadQuantMatrix(gpu, type, rows, cols, new Uint8Array(bytes), 'w');
      const xb = inpage.gpu.uploadActivations(gpu, new Float32Array(x), 'x');
      const y = inpage.gpu.createActivations(gpu, rows, 'y');
      const rec = new inpage.gpu.Recorder(gpu);
      inpage.ops.matvec(rec, { weight, x: xb, y });
      rec.submit();
      const out: number[] = Array.from(await inpage.gpu.readActivations(gpu, y, rows));
      gpu.destroy();
      return out;
    }, { type, rows, cols, bytes: Array.from(bytes), x });
    const scale = Math.max(...expected.map(Math.abs), 1e-3);
    expected.forEach((e, r) => expect(Math.abs(got[r]! - e), `${type} row ${r}`).toBeLessThan(1e-4 * scale));
  }
});

/**
 * Files as llama.cpp's own quantizer writes them (test/reference/llamacpp_files.ts), served to the page: their
 * greedy continuations in the browser equal the exact reference's, computed here in Node on the same file
 * as llama.cpp dequantizes it. Four file types that between them hold Q4_0, Q5_0, Q5_1, Q8_0, IQ4_NL, Q3_K,
 * Q4_K, Q5_K, Q6_K and IQ4_XS (each file's own shader variants are compiled in the page: about 15 s each).
 */
test('llama.cpp-quantized files of every weight type: greedy continuations equal the exact reference', async ({ page }) => {
  test.setTimeout(300_000);
  const { copyFileSync, mkdirSync } = await import('node:fs');
  const { FORTUNES_F32, llamaCppFile } = await import('../test/reference/llamacpp_files');
  const { loadReference } = await import('../test/reference/llama_ref');
  const llamacpp = await import('../test/reference/llamacpp');
  const dir = new URL('./generated/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const prompts = reference.prompts.slice(0, 6).map((p) => p.prompt);
  const cases: { url: string; expected: string[]; ftype: string }[] = [];
  for (const ftype of ['Q4_K_M', 'Q5_K_M', 'Q2_K', 'IQ4_XS'] as const) {
    const file = llamaCppFile(FORTUNES_F32, ftype);
    copyFileSync(file.path, `${dir}fortunes-${ftype}.gguf`);
    const ref = loadReference(file.exact);
    const expected: string[] = [];
    for (const p of prompts) {
      const ids = await llamacpp.tokenize(file.path, p);
      expected.push(await llamacpp.detokenize(file.path, ref.greedy(ids, 32, 1023).filter((t) => t !== 1023)));
    }
    cases.push({ url: `/e2e/generated/fortunes-${ftype}.gguf`, expected, ftype });
  }
  await page.goto('/e2e/pages/esm.html');
  for (const c of cases) {
    const got = await page.evaluate(async ({ url, prompts }) => {
      const inpage = await import('/dist/inpage.js' as string);
      const llm = await inpage.loadModel({ url, backend: 'webgpu' });
      const out: string[] = [];
      for (const prompt of prompts) out.push((await llm.completions.create({ prompt, max_tokens: 32, temperature: 0 })).choices[0].text);
      await llm.unload();
      return out;
    }, { url: c.url, prompts });
    expect(got, c.ftype).toEqual(c.expected);
  }
});

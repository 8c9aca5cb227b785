/**
 * loadOnnxModel on onnxruntime-web's WASM execution provider in Node, on an optimum-layout folder made from
 * the fortunes q4_0 GGUF by our exporter. References: onnxruntime-node on the same graph (logits), the
 * exact reference's greedy continuations (test/reference, recorded in ../shared), and @huggingface/tokenizers
 * against the GGUF tokenizer's ids recorded by llama.cpp.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadOnnxModel } from '../../src/backends/ort/onnx_model';
import type { LanguageModel } from '../../src/llm/language_model';
import { nodeLogits, optimumFolderFromGguf, SHARED_MODEL, writeFolder, type OptimumFolder } from './optimum_fixture';

const exact = JSON.parse(readFileSync(join(SHARED_MODEL, 'reference/exact-q4_0.json'), 'utf8')) as {
  prompts: { prompt: string; prompt_ids?: number[]; greedy_ids?: number[]; text_until_eos: string }[];
};
const llamacpp = JSON.parse(readFileSync(join(SHARED_MODEL, 'reference/llamacpp-q4_0.json'), 'utf8')) as {
  prompts: { prompt: string; prompt_ids: number[] }[];
};

let folder: OptimumFolder;
let llm: LanguageModel;
beforeAll(async () => {
  folder = await optimumFolderFromGguf('q4_0');
  llm = await loadOnnxModel({ files: folder.files, backend: 'wasm' });
}, 120_000);

describe('loadOnnxModel (wasm)', () => {
  test('info states the backend and the model shape from config.json', () => {
    expect(llm.info.backend).toBe('wasm');
    expect(llm.info.backendReason).toBe('requested');
    expect(llm.info).toMatchObject({ layers: 4, heads: 6, kvHeads: 2, vocabSize: 1024, contextLength: 256 });
  });

  test('tokenizer.json through @huggingface/tokenizers gives llama.cpp’s prompt ids (BOS first)', () => {
    for (const p of llamacpp.prompts) expect(llm.tokenizer.encode(p.prompt)).toEqual(p.prompt_ids);
  });

  test('logits equal onnxruntime-node on the same graph', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optimum-'));
    writeFolder(dir, folder);
    const session = await ortNode.InferenceSession.create(join(dir, 'onnx/model.onnx'));
    const ids = llamacpp.prompts[0]!.prompt_ids;
    const want = await nodeLogits(session, ids);
    const got = await llm.logits(ids);
    let maxDiff = 0;
    got.forEach((row, t) => row.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - want[t * 1024 + j]!)))));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  test('greedy completions equal the exact reference', async () => {
    let equal = 0;
    for (const p of exact.prompts.slice(0, 4)) {
      const r = await llm.completions.create({ prompt: p.prompt, max_tokens: 32, temperature: 0 });
      if (r.choices[0]!.text === p.text_until_eos) equal++;
      else console.log(JSON.stringify({ prompt: p.prompt, got: r.choices[0]!.text, want: p.text_until_eos }));
    }
    expect(equal).toBe(4);
  });

  test('streaming gives the same text, and an aborted request rejects with Aborted', async () => {
    const p = exact.prompts[1]!;
    let text = '';
    for await (const c of await llm.completions.create({ prompt: p.prompt, max_tokens: 32, temperature: 0, stream: true })) text += c.choices[0]!.text;
    expect(text).toBe(p.text_until_eos);
    const ac = new AbortController();
    ac.abort();
    await expect(llm.completions.create({ prompt: p.prompt, max_tokens: 8, signal: ac.signal })).rejects.toMatchObject({ code: 'Aborted' });
  });
});

test('generation_config.json defaults apply where a request is silent (do_sample false → greedy)', async () => {
  const files = { ...folder.files, 'generation_config.json': new TextEncoder().encode(JSON.stringify({ eos_token_id: [1023], do_sample: false })) };
  const greedy = await loadOnnxModel({ files, backend: 'wasm' });
  try {
    const p = exact.prompts[2]!;
    expect((await greedy.completions.create({ prompt: p.prompt, max_tokens: 32 })).choices[0]!.text).toBe(p.text_until_eos);
    // A request's own temperature still wins: seeded sampling at 1.5 leaves the greedy path.
    const hot = await greedy.completions.create({ prompt: p.prompt, max_tokens: 32, temperature: 1.5, top_k: 0, top_p: 1, min_p: 0, seed: 7 });
    expect(hot.choices[0]!.text).not.toBe(p.text_until_eos);
  } finally {
    await greedy.unload();
  }
});

/**
 * The optimum / transformers.js folder conventions (src/backends/ort/onnx_folder.ts): file names by dtype,
 * config.json fields across architectures (values as in published config.json files), and reading files
 * from a map, a URL (fetch) and the runtime's open hook.
 */
import { describe, expect, test } from 'vitest';
import { kvTypeFor, modelFileFor, OnnxFolder, onnxModelConfig, samplingDefaultsFrom } from '../../src/backends/ort/onnx_folder';
import { ModelFileError } from '../../src/errors';

describe('dtype → file', () => {
  test('transformers.js names', () => {
    expect(modelFileFor()).toBe('onnx/model.onnx');
    expect(modelFileFor('q4')).toBe('onnx/model_q4.onnx');
    expect(modelFileFor('q4f16')).toBe('onnx/model_q4f16.onnx');
    expect(modelFileFor('q8')).toBe('onnx/model_quantized.onnx');
    expect(modelFileFor('fp16')).toBe('onnx/model_fp16.onnx');
    expect(kvTypeFor('q4f16')).toBe('float16');
    expect(kvTypeFor('q4')).toBe('float32');
    expect(() => modelFileFor('int3' as never)).toThrow(/dtype 'int3'/);
  });
});

describe('config.json', () => {
  test('Llama-style with GQA and an eos list in generation_config', () => {
    const c = onnxModelConfig(
      { model_type: 'llama', hidden_size: 2048, num_attention_heads: 32, num_key_value_heads: 8, num_hidden_layers: 16, vocab_size: 128256, max_position_embeddings: 131072, bos_token_id: 128000, eos_token_id: 128001 },
      { eos_token_id: [128001, 128008, 128009] },
    );
    expect(c).toMatchObject({ nLayers: 16, nHeads: 32, nKvHeads: 8, headDim: 64, vocabSize: 128256, contextLength: 131072, bosId: 128000 });
    expect(c.eosIds).toEqual([128001, 128008, 128009]);
  });
  test('explicit head_dim (Qwen3/Gemma style) wins over hidden_size / heads; no KV heads means MHA', () => {
    expect(onnxModelConfig({ hidden_size: 1024, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, num_hidden_layers: 28, vocab_size: 151936 }).headDim).toBe(128);
    expect(onnxModelConfig({ n_embd: 768, n_head: 12, n_layer: 12, vocab_size: 50257, n_positions: 1024 })).toMatchObject({ nKvHeads: 12, headDim: 64, nLayers: 12, contextLength: 1024 });
  });
  test('missing sizes are a ModelFileError naming the field', () => {
    expect(() => onnxModelConfig({ hidden_size: 64, num_attention_heads: 4, vocab_size: 10 })).toThrow(ModelFileError);
    expect(() => onnxModelConfig({ hidden_size: 64, num_attention_heads: 4, vocab_size: 10 })).toThrow(/num_hidden_layers/);
    expect(() => onnxModelConfig({ hidden_size: 66, num_attention_heads: 4, num_hidden_layers: 1, vocab_size: 10 })).toThrow(/head_dim/);
  });
});

describe('OnnxFolder', () => {
  test('a file map: bytes, JSON, optional and missing files', async () => {
    const f = new OnnxFolder({ files: { 'config.json': new TextEncoder().encode('{"a":1}'), 'onnx/model.onnx': new Blob([new Uint8Array([1, 2, 3])]) } });
    expect(await f.json('config.json')).toEqual({ a: 1 });
    expect(await f.json('generation_config.json', true)).toBeUndefined();
    expect(Array.from((await f.bytes('onnx/model.onnx'))!)).toEqual([1, 2, 3]);
    expect(await f.has('onnx/model.onnx_data')).toBe(false);
    await expect(f.bytes('tokenizer.json')).rejects.toThrow(/has no tokenizer.json/);
  });
  test('a URL: small files fetched, weights through `open` (the cache), 404 = missing', async () => {
    const fetched: string[] = [];
    const opened: string[] = [];
    const fetchFake = (async (url: string) => {
      fetched.push(url);
      return url.endsWith('/config.json') ? new Response('{"x":2}') : new Response('no', { status: 404 });
    }) as unknown as typeof fetch;
    const f = new OnnxFolder({ url: 'https://host/m' }, {
      fetch: fetchFake,
      open: async (url) => {
        opened.push(url);
        if (url.endsWith('_data')) throw new Error('404');
        return { source: { bytes: new Uint8Array([9]) } };
      },
    });
    expect(await f.json('config.json')).toEqual({ x: 2 });
    expect(await f.json('tokenizer_config.json', true)).toBeUndefined();
    expect(Array.from((await f.bytes('onnx/model.onnx'))!)).toEqual([9]);
    expect(await f.has('onnx/model.onnx_data')).toBe(false);
    expect(fetched).toEqual(['https://host/m/config.json', 'https://host/m/tokenizer_config.json']);
    expect(opened).toEqual(['https://host/m/onnx/model.onnx', 'https://host/m/onnx/model.onnx_data']);
  });
});

test('generation_config.json sampling fields become request defaults', () => {
  expect(samplingDefaultsFrom({ do_sample: true, temperature: 0.6, top_p: 0.9, top_k: 20, repetition_penalty: 1.1, eos_token_id: [1, 2] })).toEqual({ temperature: 0.6, top_p: 0.9, top_k: 20, repetition_penalty: 1.1 });
  expect(samplingDefaultsFrom({ do_sample: false, temperature: 0.6 })).toEqual({ temperature: 0 });
  expect(samplingDefaultsFrom({})).toEqual({});
});

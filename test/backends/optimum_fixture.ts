/**
 * An optimum / transformers.js-layout folder made from a GGUF fixture, for the ONNX-model tests (Node and
 * Chromium): config.json, generation_config.json, tokenizer.json and tokenizer_config.json from the shared
 * model's hf/ folder, and onnx/model.onnx + onnx/model.onnx_data from our GGUF→ONNX exporter.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { exportGgufToOnnx } from '../../src/backends/ort/gguf_to_onnx';
import { openGguf } from '../../src/formats/gguf';
import { modelConfigFromGguf } from '../../src/llm/config';

export const SHARED_MODEL = new URL('../../../shared/models/fortunes-1.8m/', import.meta.url).pathname;

export interface OptimumFolder {
  /** Paths inside the folder → bytes. */
  files: Record<string, Uint8Array>;
}

export async function optimumFolderFromGguf(variant: 'f32' | 'q8_0' | 'q4_0' = 'q4_0'): Promise<OptimumFolder> {
  const bytes = new Uint8Array(readFileSync(join(SHARED_MODEL, `fortunes-1.8m-${variant}.gguf`)));
  const file = await openGguf({ bytes });
  const config = modelConfigFromGguf(file.metadata, file.tensors);
  const exported = await exportGgufToOnnx(file, { bytes }, config);
  const hf = (name: string) => new Uint8Array(readFileSync(join(SHARED_MODEL, 'hf', name)));
  const hfConfig = JSON.parse(new TextDecoder().decode(hf('config.json'))) as Record<string, unknown>;
  const generation = { bos_token_id: hfConfig.bos_token_id, eos_token_id: [hfConfig.eos_token_id], max_length: 256 };
  return {
    files: {
      'config.json': hf('config.json'),
      'generation_config.json': new TextEncoder().encode(JSON.stringify(generation, null, 1)),
      'tokenizer.json': hf('tokenizer.json'),
      'tokenizer_config.json': hf('tokenizer_config.json'),
      'onnx/model.onnx': exported.model,
      [`onnx/${exported.externalData.path}`]: exported.externalData.data,
    },
  };
}

export function writeFolder(dir: string, folder: OptimumFolder): void {
  for (const [path, data] of Object.entries(folder.files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
}

/**
 * onnxruntime-node, the reference: logits at every position of `ids` ([T × vocab], row-major) from an empty
 * cache, on a `session` of the folder's onnx/model.onnx (the fixture's 4 layers of 2 key/value heads of 32).
 */
export async function nodeLogits(session: ortNode.InferenceSession, ids: readonly number[]): Promise<Float32Array> {
  const T = ids.length;
  const feeds: Record<string, ortNode.Tensor> = {
    input_ids: new ortNode.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]),
    attention_mask: new ortNode.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
    position_ids: new ortNode.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]),
  };
  for (let i = 0; i < 4; i++) {
    for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ortNode.Tensor('float32', new Float32Array(0), [1, 2, 0, 32]);
  }
  return (await session.run(feeds)).logits!.data as Float32Array;
}

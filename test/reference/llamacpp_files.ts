/**
 * GGUF files exactly as llama.cpp's quantizer writes them (./llamacpp_quantize.ts), for the file types
 * people download, from two F32 models:
 *  - the shared fortunes-1.8m model (width 192, not a multiple of 256): llama.cpp falls back per tensor, so
 *    its Q4_K_M is mostly Q5_0, its Q2_K mostly Q4_0, … — the mixes of Qwen2.5-0.5B or SmolLM2 files;
 *  - a synthetic qwen2 model whose widths are multiples of 256 (dModel 256, dFf 512), where every K-quant
 *    and IQ4_XS is used as the file type names it.
 * Each file comes with its exact weights: the same file dequantized to F32 by ggml's own to_float.
 */
import { readFileSync } from 'node:fs';
import { buildSyntheticModel, type SyntheticCase } from '../llm/synthetic_models';
import { dequantizeWithLlamaCpp, quantizeWithLlamaCpp, type LlamaFileType } from './llamacpp_quantize';

/** The file types of the fidelity suites: the eleven commonly published ones. */
export const LLAMACPP_FILE_TYPES = ['Q4_K_M', 'Q5_K_M', 'Q3_K_M', 'Q2_K', 'IQ4_XS', 'IQ4_NL', 'Q4_1', 'Q5_0', 'Q5_1', 'BF16', 'Q6_K'] as const;
export type PublishedFileType = (typeof LLAMACPP_FILE_TYPES)[number];

export const FORTUNES_F32 = new URL('../../../shared/models/fortunes-1.8m/fortunes-1.8m-f32.gguf', import.meta.url).pathname;

/**
 * The synthetic base model, F32. A qwen2 (NeoX rope, q/k/v biases) with an untied head built from the
 * embedding (see synthetic_models.ts: peaked logits, so that llama.cpp's 8-bit activations rarely flip a
 * top-1), GQA 4 heads / 2 KV heads of 64.
 */
export const WIDE_SYNTHETIC: SyntheticCase = {
  name: 'qwen2 F32, widths multiples of 256',
  quantized: false,
  weightTypes: ['F32'],
  options: {
    architecture: 'qwen2', nLayers: 2, dModel: 256, nHeads: 4, nKvHeads: 2, dFf: 512, qkvBias: true, tiedOutput: false,
    weightType: 'F32', residualGain: 5, tokenizer: { model: 'gpt2', pre: 'qwen2' }, seed: 26,
  },
  build: { headFromEmbedding: true },
};

let wide: { path: string; eos: number } | undefined;
/** The synthetic base model's path (written once per process). */
export function wideSyntheticF32(): string {
  return wideSynthetic().path;
}
/** The synthetic base model's path and EOS id. */
export function wideSynthetic(): { path: string; eos: number } {
  wide ??= buildSyntheticModel(WIDE_SYNTHETIC);
  return wide;
}

export interface LlamaCppFile {
  /** The quantized file. */
  path: string;
  /** The same file dequantized to F32 by llama.cpp: its exact weights. */
  exact: string;
  bytes(): Uint8Array;
}

/** `base` (an F32 GGUF path) in llama.cpp file type `ftype`, with its exact weights. */
export function llamaCppFile(base: string, ftype: LlamaFileType): LlamaCppFile {
  const path = quantizeWithLlamaCpp(base, ftype);
  return { path, exact: dequantizeWithLlamaCpp(path), bytes: () => new Uint8Array(readFileSync(path)) };
}

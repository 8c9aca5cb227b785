import { InvalidArgumentError } from '../errors';
import type { ByteSource, GgufFile, GgufTensorInfo } from '../formats/gguf';
import { readTensorChunks } from '../formats/gguf';
import { RowUploader, uploadActivations, type Gpu } from '../gpu';
import { createQuantMatrix, type QuantMatrix } from '../ops/weights';
import type { ModelConfig } from './config';

/** One transformer block's weights on the GPU. Matrices stay in their GGUF quantized form. */
export interface LayerWeights {
  attnNorm: GPUBuffer;
  wq: QuantMatrix;
  wk: QuantMatrix;
  wv: QuantMatrix;
  /** qwen2 only: q/k/v biases (activations). */
  bq?: GPUBuffer;
  bk?: GPUBuffer;
  bv?: GPUBuffer;
  wo: QuantMatrix;
  ffnNorm: GPUBuffer;
  wGate: QuantMatrix;
  wUp: QuantMatrix;
  wDown: QuantMatrix;
}

export interface ModelWeights {
  tokenEmbedding: QuantMatrix;
  layers: LayerWeights[];
  outputNorm: GPUBuffer;
  /** Llama 3.1-style per-frequency RoPE divisors (`rope_freqs.weight`, f32), when the file has them. */
  ropeFreqs?: GPUBuffer;
  /** The output head: `output.weight`, or the token embedding when the file ties them. */
  output: QuantMatrix;
  /** Packed bytes of all weights on the GPU (what decode must read per token, the tied head counted once). */
  bytes: number;
}

export interface LoadProgress {
  phase: 'gpu-upload';
  loadedBytes: number;
  totalBytes: number;
  tensor: string;
}

/**
 * Streams every tensor the model needs from the file into GPU buffers, chunk by chunk: JS memory holds at
 * most one chunk of weights at a time. Norms and biases (small F32 vectors) are read whole.
 */
export async function loadModelWeights(
  gpu: Gpu,
  source: ByteSource,
  file: GgufFile,
  config: ModelConfig,
  options: { chunkBytes?: number; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal } = {},
): Promise<ModelWeights> {
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const needed = requiredTensorNames(config);
  const totalBytes = needed.reduce((n, name) => n + tensor(byName, name).byteLength, 0);
  let loadedBytes = 0;
  const created: (() => void)[] = [];
  const chunkBytes = options.chunkBytes ?? 4 << 20;

  const matrix = async (name: string): Promise<QuantMatrix> => {
    const t = tensor(byName, name);
    const [cols, rows = 1] = t.dims;
    const m = createQuantMatrix(gpu, t.type, rows, cols, name); // type validated when the file was opened
    created.push(() => gpu.allocator.releaseRows(m.data));
    const up = new RowUploader(gpu, m.data);
    for await (const chunk of readTensorChunks(source, t, chunkBytes, { signal: options.signal })) {
      options.signal?.throwIfAborted();
      up.write(chunk);
      loadedBytes += chunk.byteLength;
      options.onProgress?.({ phase: 'gpu-upload', loadedBytes, totalBytes, tensor: name });
    }
    up.finish();
    return m;
  };
  const vector = async (name: string, as: 'f32' | 'activations'): Promise<GPUBuffer> => {
    const t = tensor(byName, name);
    if (t.type !== 'F32') throw new InvalidArgumentError(`${name}: expected an F32 vector, found type ${t.type}`);
    const parts: Uint8Array[] = [];
    for await (const chunk of readTensorChunks(source, t, chunkBytes, { signal: options.signal })) parts.push(chunk.slice());
    const bytes = new Uint8Array(t.byteLength);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    loadedBytes += t.byteLength;
    options.onProgress?.({ phase: 'gpu-upload', loadedBytes, totalBytes, tensor: name });
    const values = new Float32Array(bytes.buffer, 0, t.byteLength / 4);
    // Norm weights are read by rmsNorm as f32; biases are added to activations, so they take the activation type.
    const buffer = as === 'f32' ? gpu.allocator.createBufferFrom(values, name) : uploadActivations(gpu, values, name);
    created.push(() => gpu.allocator.release(buffer));
    return buffer;
  };

  try {
    // Upload in file order, not model order: a cached file is read chunk by chunk and a reader that jumps
    // back and forth (llama.cpp writes some tensors of a layer out of our order) would read chunks twice.
    const kinds = tensorKinds(config);
    const order = [...kinds.keys()].sort((a, b) => tensor(byName, a).offset - tensor(byName, b).offset);
    const uploaded = new Map<string, QuantMatrix | GPUBuffer>();
    for (const name of order) {
      const kind = kinds.get(name)!;
      uploaded.set(name, kind === 'matrix' ? await matrix(name) : await vector(name, kind));
    }
    const m = (name: string) => uploaded.get(name) as QuantMatrix;
    const v = (name: string) => uploaded.get(name) as GPUBuffer;
    const optional = (name: string) => uploaded.get(name) as GPUBuffer | undefined;

    const tokenEmbedding = m('token_embd.weight');
    const layers: LayerWeights[] = [];
    for (let i = 0; i < config.nLayers; i++) {
      const p = `blk.${i}.`;
      layers.push({
        attnNorm: v(`${p}attn_norm.weight`),
        wq: m(`${p}attn_q.weight`),
        wk: m(`${p}attn_k.weight`),
        wv: m(`${p}attn_v.weight`),
        bq: optional(`${p}attn_q.bias`),
        bk: optional(`${p}attn_k.bias`),
        bv: optional(`${p}attn_v.bias`),
        wo: m(`${p}attn_output.weight`),
        ffnNorm: v(`${p}ffn_norm.weight`),
        wGate: m(`${p}ffn_gate.weight`),
        wUp: m(`${p}ffn_up.weight`),
        wDown: m(`${p}ffn_down.weight`),
      });
    }
    const outputNorm = v('output_norm.weight');
    const output = config.tiedOutput ? tokenEmbedding : m('output.weight');
    const ropeFreqs = config.ropeFreqsTensor ? v(config.ropeFreqsTensor) : undefined;
    await gpu.checkErrors();
    return { tokenEmbedding, layers, outputNorm, output, ropeFreqs, bytes: totalBytes };
  } catch (e) {
    // Nothing half-loaded stays on the GPU.
    for (const destroy of created) destroy();
    throw e;
  }
}

export function destroyModelWeights(gpu: Gpu, w: ModelWeights): void {
  const matrices = [w.tokenEmbedding, ...(w.output === w.tokenEmbedding ? [] : [w.output])];
  const vectors = [w.outputNorm, ...(w.ropeFreqs ? [w.ropeFreqs] : [])];
  for (const l of w.layers) {
    matrices.push(l.wq, l.wk, l.wv, l.wo, l.wGate, l.wUp, l.wDown);
    vectors.push(l.attnNorm, l.ffnNorm, ...[l.bq, l.bk, l.bv].filter((b): b is GPUBuffer => !!b));
  }
  for (const m of matrices) gpu.allocator.releaseRows(m.data);
  for (const v of vectors) gpu.allocator.release(v);
}

/** The tensors a llama/qwen2 model of this config reads: name → how it is uploaded. */
function tensorKinds(config: ModelConfig): Map<string, 'matrix' | 'f32' | 'activations'> {
  const kinds = new Map<string, 'matrix' | 'f32' | 'activations'>();
  for (const name of requiredTensorNames(config)) {
    // Norm weights are read by rmsNorm as f32; biases are added to activations, so they take the activation type.
    kinds.set(name, name.endsWith('norm.weight') || name === config.ropeFreqsTensor ? 'f32' : name.endsWith('.bias') ? 'activations' : 'matrix');
  }
  return kinds;
}

/** The tensors a llama/qwen2 model of this config reads, in model order. */
export function requiredTensorNames(config: ModelConfig): string[] {
  const names = ['token_embd.weight'];
  for (let i = 0; i < config.nLayers; i++) {
    const p = `blk.${i}.`;
    names.push(`${p}attn_norm.weight`, `${p}attn_q.weight`, `${p}attn_k.weight`, `${p}attn_v.weight`);
    if (config.hasQkvBias) names.push(`${p}attn_q.bias`, `${p}attn_k.bias`, `${p}attn_v.bias`);
    names.push(`${p}attn_output.weight`, `${p}ffn_norm.weight`, `${p}ffn_gate.weight`, `${p}ffn_up.weight`, `${p}ffn_down.weight`);
  }
  names.push('output_norm.weight');
  if (!config.tiedOutput) names.push('output.weight');
  if (config.ropeFreqsTensor) names.push(config.ropeFreqsTensor);
  return names;
}

function tensor(byName: Map<string, GgufTensorInfo>, name: string): GgufTensorInfo {
  const t = byName.get(name);
  if (!t) throw new InvalidArgumentError(`tensor ${name} is missing`); // config validation reports this first
  return t;
}

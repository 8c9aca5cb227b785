/**
 * A GGUF file → a LanguageModel on onnxruntime-web's WASM execution provider (loadModel's backend 'wasm'):
 * the weights are exported to an ONNX decoder (./gguf_to_onnx.ts), run by OrtDecoder, and driven by the
 * same generation loop, tokenizer and chat template as the native engine. Everything that can be wrong
 * with the file is found before onnxruntime is involved (openGguf, modelConfigFromGguf, the exporter).
 */
import { openGguf, type ByteSource } from '../../formats/gguf';
import { modelConfigFromGguf, type ModelConfig } from '../../llm/config';
import { GenerationSession } from '../../llm/generate';
import { ggufModelInfo, LanguageModel, type ModelInfo } from '../../llm/language_model';
import { withModelSource } from '../../llm/model_source';
import { sessionShape, type SessionOptions } from '../../llm/session_options';
import type { LoadProgressEvent } from '../../llm/load_model';
import { ChatTemplate, type ChatFallback } from '../../tokenizer/chat';
import { createTokenizer } from '../../tokenizer';
import { exportGgufToOnnx } from './gguf_to_onnx';
import { OrtDecoder, type Ort } from './ort_decoder';
import { OrtEngine } from './ort_engine';
import { gpuKvSessionOptions } from './ort_runtime';

export interface OrtLoadOptions extends SessionOptions {
  chatFallback?: ChatFallback;
  /** MatMulNBits accuracy_level (see ExportOptions): 0 exact f32 (default), 4 int8 activations. */
  accuracyLevel?: 0 | 4;
  /**
   * Linear-layer weights (ExportOptions.matmulWeights). 'auto' (default): 'f32' when the dequantized
   * weights fit F32_WEIGHT_BUDGET — onnxruntime-web's WASM build has no fused MatMulNBits kernel, and an f32
   * MatMul is ~100× faster per decode step — else 'nbits' (the file's size, slow but within WASM memory).
   */
  matmulWeights?: 'auto' | 'nbits' | 'f32';
  onProgress?: (e: LoadProgressEvent) => void;
  signal?: AbortSignal;
  /** Why this backend was chosen (ModelInfo.backendReason). */
  reason?: string;
  /** 'wasm' (default) or 'webgpu' (the KV cache then stays on the GPU: ./ort_runtime.ts gpuKvSessionOptions). */
  executionProvider?: 'wasm' | 'webgpu';
  /** Receives the file's GGUF metadata once parsed (as loadModelFrom's hook). */
  onMetadata?: (metadata: Record<string, unknown>) => void;
}

/**
 * Largest f32 copy of the linear weights the 'auto' choice accepts: onnxruntime-web's WASM heap is 32-bit
 * (4 GiB) and holds the weights, the external-data buffer it reads them from, and the activations.
 */
export const F32_WEIGHT_BUDGET = 2.5 * 2 ** 30;

/** Weights of every linear layer (the output head included): what 'f32' stores as f32. */
export function linearWeightCount(c: ModelConfig): number {
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  return c.nLayers * (c.dModel * (2 * q + 2 * kv) + 3 * c.dModel * c.dFf) + c.vocabSize * c.dModel;
}

/** `ort`: the onnxruntime-web module, imported by the caller (so only this backend's users load it). */
export async function loadOrtModelFrom(ort: Ort, opened: ByteSource, options: OrtLoadOptions = {}): Promise<LanguageModel> {
  return withModelSource(opened, options.signal, (source) => loadOnOrt(ort, source, options));
}

async function loadOnOrt(ort: Ort, source: ByteSource, options: OrtLoadOptions): Promise<LanguageModel> {
  const onProgress = options.onProgress ?? (() => {});
  const file = await openGguf(source, { signal: options.signal });
  const config = modelConfigFromGguf(file.metadata, file.tensors);
  options.onMetadata?.(file.metadata);
  const tokenizer = createTokenizer(file.metadata);
  const template = typeof file.metadata['tokenizer.chat_template'] === 'string' ? (file.metadata['tokenizer.chat_template'] as string) : undefined;
  onProgress({ phase: 'metadata', loadedBytes: 0, totalBytes: file.fileSize, message: `${config.architecture}, ${config.nLayers} layers` });
  const { contextLength, prefillChunk: chunk, streamIdleTimeoutMs } = sessionShape(options, config.contextLength);

  const f32Bytes = linearWeightCount(config) * 4;
  const matmulWeights = options.matmulWeights === undefined || options.matmulWeights === 'auto' ? (f32Bytes <= F32_WEIGHT_BUDGET ? 'f32' : 'nbits') : options.matmulWeights;
  const onnx = await exportGgufToOnnx(file, source, config, { accuracyLevel: options.accuracyLevel, matmulWeights, maxPositions: contextLength, signal: options.signal });
  const weightBytes = onnx.externalData.data.byteLength;
  if (onnx.dequantizedTypes.length) {
    onProgress({ phase: 'metadata', loadedBytes: 0, totalBytes: file.fileSize, message: `${onnx.dequantizedTypes.join(', ')} weights dequantized to f32 (MatMulNBits cannot hold them exactly)` });
  }
  onProgress({ phase: 'gpu-upload', loadedBytes: weightBytes, totalBytes: weightBytes, message: 'onnxruntime session' });
  const decoder = await OrtDecoder.create(ort, onnx.model, [onnx.externalData], {
    nLayers: config.nLayers, nKvHeads: config.nKvHeads, headDim: config.headDim, vocabSize: config.vocabSize,
    kvType: 'float32', executionProvider: options.executionProvider ?? 'wasm', contextLength,
    sessionOptions: options.executionProvider === 'webgpu' ? gpuKvSessionOptions(config.nLayers) : {},
  });
  const session = new GenerationSession(new OrtEngine(decoder, contextLength, chunk));

  const threads = ort.env.wasm.numThreads ?? 1;
  const info: ModelInfo = {
    ...ggufModelInfo(file, config),
    backend: options.executionProvider === 'webgpu' ? 'ort-webgpu' : 'wasm',
    backendReason: options.reason ?? 'requested',
    precision: 'f32',
    adapter: `onnxruntime-web ${ort.env.versions?.web ?? ''} ${options.executionProvider === 'webgpu' ? 'webgpu' : `wasm, ${threads} thread${threads === 1 ? '' : 's'}`}, ${matmulWeights === 'f32' ? 'f32 MatMul' : 'MatMulNBits'}`.replace('  ', ' '),
    contextLength,
    weightBytes,
    kvCacheBytes: 2 * config.nLayers * contextLength * config.nKvHeads * config.headDim * 4,
    hasChatTemplate: template !== undefined,
    dequantizedTypes: onnx.dequantizedTypes,
  };
  let chatTemplate: ChatTemplate | undefined;
  const renderChat = (messages: { role: string; content: string }[]) => {
    chatTemplate ??= ChatTemplate.fromMetadata(file.metadata, tokenizer, { fallback: options.chatFallback });
    return chatTemplate.render(messages, { addGenerationPrompt: true });
  };
  onProgress({ phase: 'ready', loadedBytes: weightBytes, totalBytes: weightBytes, message: 'ready' });
  return new LanguageModel({ session, tokenizer, renderChat, info, streamIdleTimeoutMs, destroy: () => decoder.dispose() });
}

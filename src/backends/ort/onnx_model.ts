/**
 * loadOnnxModel: a decoder-only model exported by optimum / transformers.js (folder layout in
 * ./onnx_folder.ts) → the same LanguageModel (OpenAI-shaped, streaming, abort, sampling) as the native
 * engine, run by onnxruntime-web on its WebGPU execution provider or on WASM.
 *
 * On WebGPU the key/value cache never leaves the GPU: present.* outputs are asked for as 'gpu-buffer'
 * (preferredOutputLocation) and fed back as the next step's past_key_values.*, and the previous step's
 * tensors are disposed (OrtDecoder). Only the logits row is read back.
 */
import { InvalidArgumentError } from '../../errors';
import type { LoadProgressEvent } from '../../llm/load_model';
import { GenerationSession } from '../../llm/generate';
import { LanguageModel, type LanguageModelParts, type ModelInfo } from '../../llm/language_model';
import { sessionShape, type SessionOptions } from '../../llm/session_options';
import { ChatTemplate, type ChatFallback } from '../../tokenizer/chat';
import { chooseBackend, describeAdapter, type BackendChoice } from '../choose';
import { HfTokenizer, tokenText, type HfTokenizerConfig, type HfTokenizerSpec } from './hf_tokenizer';
import { kvTypeFor, modelFileFor, OnnxFolder, onnxModelConfig, samplingDefaultsFrom, type FolderReadOptions, type OnnxDtype, type OnnxFolderFiles } from './onnx_folder';
import { OrtDecoder } from './ort_decoder';
import { gpuKvSessionOptions, loadOrt, type OrtRuntimeOptions } from './ort_runtime';
import { OrtEngine } from './ort_engine';

export type { OnnxDtype, OnnxFolderFiles };

export interface LoadOnnxModelOptions extends OrtRuntimeOptions, SessionOptions {
  /** The folder's URL (holding config.json, tokenizer.json, onnx/…). */
  url?: string;
  /** Or the folder's files by path ('config.json', 'onnx/model.onnx', …): Blobs, bytes or URLs. */
  files?: OnnxFolderFiles;
  /** Which weights file (transformers.js names): fp32 → onnx/model.onnx, q4 → onnx/model_q4.onnx, … Default fp32. */
  dtype?: OnnxDtype;
  /** A model file path inside the folder, instead of the one dtype names. */
  modelFile?: string;
  /** 'auto' (default): onnxruntime-web on WebGPU with a hardware adapter, else WASM. See ../choose.ts. */
  backend?: 'auto' | 'ort-webgpu' | 'wasm';
  /** A GPU to look at for the backend choice instead of navigator.gpu. */
  gpu?: GPU;
  chatFallback?: ChatFallback;
  onProgress?: (e: LoadProgressEvent) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** What the runtime layer may attach (the weight cache for the large files). */
export interface OnnxLoadHooks {
  open?: FolderReadOptions['open'];
  /** A choice already made by the caller (loadModel's routing), so adapters are not asked twice. */
  choice?: BackendChoice;
  /** Receives what the tokenizer is built from (the worker runtime sends it to the page). */
  onTokenizer?: (spec: HfTokenizerSpec) => void;
}

export async function loadOnnxModel(options: LoadOnnxModelOptions, hooks: OnnxLoadHooks = {}): Promise<LanguageModel> {
  if ((options.url === undefined) === (options.files === undefined)) throw new InvalidArgumentError('loadOnnxModel needs exactly one of { url, files }');
  const onProgress = options.onProgress ?? (() => {});
  const folder = new OnnxFolder(options.url !== undefined ? { url: options.url } : { files: options.files! }, {
    fetch: options.fetch,
    signal: options.signal,
    open: hooks.open,
    onProgress: (file, loadedBytes, totalBytes) => onProgress({ phase: 'download', loadedBytes, totalBytes, message: file }),
  });
  try {
    const [config, generation, tokenizerJson, tokenizerConfig] = await Promise.all([
      folder.json('config.json'),
      folder.json('generation_config.json', true),
      folder.json('tokenizer.json'),
      folder.json('tokenizer_config.json', true),
    ]);
    const cfg = onnxModelConfig(config, generation ?? {});
    const choice = hooks.choice ?? (await chooseBackend({ requested: options.backend ?? 'auto', format: 'onnx', gpu: options.gpu }));
    if (choice.backend === 'webgpu') throw new InvalidArgumentError("an ONNX model runs on 'ort-webgpu' or 'wasm'");
    onProgress({ phase: 'metadata', loadedBytes: 0, totalBytes: 0, message: `${cfg.modelType}, ${cfg.nLayers} layers; backend ${choice.backend}: ${choice.reason}` });

    const modelPath = options.modelFile ?? modelFileFor(options.dtype);
    const externalPaths = await externalDataFiles(folder, config, modelPath);
    const ort = await loadOrt(choice.backend === 'ort-webgpu' ? 'webgpu' : 'wasm', options);
    const model = (await folder.bytes(modelPath))!;
    const externalData: { path: string; data: Uint8Array }[] = [];
    for (const p of externalPaths) externalData.push({ path: p.slice(p.lastIndexOf('/') + 1), data: (await folder.bytes(p))! });
    await folder.whenComplete();
    const weightBytes = model.byteLength + externalData.reduce((s, e) => s + e.data.byteLength, 0);
    onProgress({ phase: 'gpu-upload', loadedBytes: 0, totalBytes: weightBytes, message: `creating the onnxruntime session (${choice.backend})` });

    const { contextLength, prefillChunk, streamIdleTimeoutMs } = sessionShape(options, cfg.contextLength);
    const gpuKv = choice.backend === 'ort-webgpu';
    const kvType = kvTypeFor(options.dtype);
    const decoder = await OrtDecoder.create(ort, model, externalData, {
      nLayers: cfg.nLayers,
      nKvHeads: cfg.nKvHeads,
      headDim: cfg.headDim,
      vocabSize: cfg.vocabSize,
      kvType,
      contextLength,
      executionProvider: gpuKv ? 'webgpu' : 'wasm',
      sessionOptions: gpuKv ? gpuKvSessionOptions(cfg.nLayers) : {},
    });

    const tokCfg = (tokenizerConfig ?? {}) as HfTokenizerConfig;
    const spec: HfTokenizerSpec = { json: tokenizerJson, config: tokCfg, options: { vocabSize: cfg.vocabSize, bosId: cfg.bosId, eosIds: cfg.eosIds } };
    const tokenizer = new HfTokenizer(spec.json, spec.config, spec.options);
    hooks.onTokenizer?.(spec);
    const templateSource = chatTemplateOf(tokCfg);
    let chat: ChatTemplate | undefined;
    const renderChat: LanguageModelParts['renderChat'] = (messages) => {
      chat ??= new ChatTemplate(templateSource, {
        bosToken: tokenText(tokCfg.bos_token) ?? '',
        eosToken: tokenText(tokCfg.eos_token) ?? '',
        stripBos: tokenizer.addsBos,
        fallback: options.chatFallback,
      });
      return chat.render(messages as unknown as Parameters<ChatTemplate["render"]>[0], { addGenerationPrompt: true });
    };

    const session = new GenerationSession(new OrtEngine(decoder, contextLength, prefillChunk));
    const info: ModelInfo = {
      name: cfg.name,
      architecture: cfg.modelType,
      backend: choice.backend,
      backendReason: choice.reason,
      precision: kvType === 'float16' ? 'f16' : 'f32',
      adapter: gpuKv ? (choice.adapter ? describeAdapter(choice.adapter) : 'onnxruntime-web WebGPU') : `onnxruntime-web WASM (${ort.env.wasm.numThreads ?? 1} threads)`,
      contextLength,
      vocabSize: cfg.vocabSize,
      layers: cfg.nLayers,
      dModel: cfg.dModel,
      heads: cfg.nHeads,
      kvHeads: cfg.nKvHeads,
      weightTypes: { [`onnx ${options.dtype ?? 'fp32'}`]: 1 },
      weightBytes,
      kvCacheBytes: 2 * cfg.nLayers * cfg.nKvHeads * cfg.headDim * contextLength * (kvType === 'float16' ? 2 : 4),
      hasChatTemplate: templateSource !== undefined,
      dequantizedTypes: [],
    };
    onProgress({ phase: 'ready', loadedBytes: weightBytes, totalBytes: weightBytes, message: `ready (${choice.backend}: ${choice.reason})` });
    return new LanguageModel({ session, tokenizer, renderChat, info, streamIdleTimeoutMs, destroy: () => decoder.dispose(), samplingDefaults: samplingDefaultsFrom(generation) });
  } finally {
    folder.close();
  }
}

/** tokenizer_config.json's chat_template: a string, or a list of named templates ('default' first). */
function chatTemplateOf(c: HfTokenizerConfig): string | undefined {
  const t = c.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x.name === 'default') ?? t[0])?.template;
  return undefined;
}

/**
 * The external data files of `modelPath`: transformers.js_config.use_external_data_format says how many
 * (true = 1, a number = that many: model.onnx_data, model.onnx_data_1, …); without it, model.onnx_data
 * is used when the folder has it.
 */
async function externalDataFiles(folder: OnnxFolder, config: Record<string, unknown>, modelPath: string): Promise<string[]> {
  const base = `${modelPath}_data`;
  const js = config['transformers.js_config'] as { use_external_data_format?: boolean | number | Record<string, boolean | number> } | undefined;
  let flag = js?.use_external_data_format;
  if (flag !== null && typeof flag === 'object') flag = flag[modelPath.slice(modelPath.lastIndexOf('/') + 1)];
  const count = flag === true ? 1 : typeof flag === 'number' ? flag : flag === false ? 0 : (await folder.has(base)) ? 1 : 0;
  return Array.from({ length: count }, (_, i) => (i === 0 ? base : `${base}_${i}`));
}

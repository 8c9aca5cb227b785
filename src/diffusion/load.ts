/**
 * Loading a Stable Diffusion ONNX export into a DiffusionPipeline in this thread: configs, tokenizer, the
 * three components on onnxruntime-web (WebGPU or WASM), with progress. The page-facing loadDiffusion (which
 * by default runs this in a Web Worker) is ./load_diffusion.ts.
 */
import { InvalidArgumentError, ModelFileError } from '../errors';
import { readOnnxModelInfo } from '../formats/onnx/model_info';
import type { CacheSetting } from '../runtime/cache';
import { ClipTokenizer } from './clip_tokenizer';
import { localFiles, parseJsonObject, requireSource, urlFiles, type FileProgress, type LocalFiles, type ModelFiles } from './model_files';
import {
  checkPrecision, createSession, isFp16, loadOrtFor, OrtTextEncoder, OrtUnet, OrtVaeDecoder,
  type ComponentFile, type Ort, type OrtBackend, type OrtSettings,
} from './ort_components';
import { DiffusionPipeline, type PromptTokenizer } from './pipeline';

export type DiffusionBackend = 'auto' | OrtBackend;

export interface DiffusionLoadProgress {
  phase: 'config' | 'download' | 'cache-read' | 'read' | 'session' | 'ready';
  /** text_encoder, unet or vae_decoder (for file and session phases). */
  component?: string;
  /** The file being read (e.g. "unet/model.onnx_data"). */
  file?: string;
  /** Bytes of this file so far / in all (file phases); for 'session', sessions made so far / 3. */
  loadedBytes: number;
  totalBytes: number;
  rate?: number;
  etaSeconds?: number;
  message: string;
}

export interface DiffusionLoadOptions extends OrtSettings {
  /** Base URL of the export's folder (holding model_index.json). */
  url?: string;
  /** Or the files of a local folder selection (`input.files` of `<input type=file webkitdirectory>`), or path → bytes. */
  files?: LocalFiles;
  /** 'auto' (default): WebGPU on a hardware GPU adapter, else WASM; or force one. */
  backend?: DiffusionBackend;
  /** The IndexedDB weight cache for URL loads (as loadModel's `cache`): 'auto' by default. */
  cache?: CacheSetting;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (e: DiffusionLoadProgress) => void;
}

export interface DiffusionInfo {
  backend: OrtBackend;
  backendReason: string;
  /** The UNet computes in fp16. */
  fp16: boolean;
  /** Text embedding width (768 SD 1.x, 1024 SD 2.x). */
  hiddenSize: number;
  scalingFactor: number;
  /** Default image size in pixels. */
  defaultSize: number;
  /** scheduler_config.json's diffusers class. */
  schedulerClass: string;
  /** Largest UNet batch (Infinity = dynamic): guidance runs as one batch-2 call when ≥ 2. */
  unetMaxBatch: number;
  /** Bytes of each weight file loaded. */
  files: Record<string, number>;
  /** Where the pipeline runs (set by loadDiffusion). */
  runtime?: 'worker' | 'in-thread';
  runtimeReason?: string;
}

export const COMPONENTS = ['text_encoder', 'unet', 'vae_decoder'] as const;
export const DEFAULT_SCALING_FACTOR = 0.18215;

/** What to run on, and why. */
export async function chooseBackend(requested: DiffusionBackend = 'auto'): Promise<{ backend: OrtBackend; reason: string; shaderF16: boolean }> {
  if (requested !== 'auto' && requested !== 'webgpu' && requested !== 'wasm') throw new InvalidArgumentError(`backend must be 'auto', 'webgpu' or 'wasm', got ${JSON.stringify(requested)}`);
  if (requested === 'wasm') return { backend: 'wasm', reason: "backend: 'wasm'", shaderF16: false };
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = gpu ? await gpu.requestAdapter() : null;
  } catch {
    adapter = null;
  }
  if (!adapter) {
    if (requested === 'webgpu') throw new InvalidArgumentError("backend: 'webgpu', but this browser offers no WebGPU adapter; use backend: 'auto' or 'wasm'");
    return { backend: 'wasm', reason: gpu ? 'no WebGPU adapter' : 'no WebGPU in this browser', shaderF16: false };
  }
  const shaderF16 = adapter.features.has('shader-f16');
  if (requested === 'webgpu') return { backend: 'webgpu', reason: "backend: 'webgpu'", shaderF16 };
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const software = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/i.test(`${info?.architecture ?? ''} ${info?.description ?? ''} ${info?.vendor ?? ''}`);
  if (software) return { backend: 'wasm', reason: `the WebGPU adapter is software (${info?.architecture || info?.description || 'fallback'}): WASM is faster`, shaderF16 };
  return { backend: 'webgpu', reason: 'a hardware WebGPU adapter', shaderF16 };
}

/** Loads the export named by `o.url` / `o.files` in this thread. */
export async function loadDiffusionInThread(o: DiffusionLoadOptions): Promise<{ pipeline: DiffusionPipeline; info: DiffusionInfo }> {
  requireSource(o);
  const files: ModelFiles = o.url !== undefined ? urlFiles(o.url, { cache: o.cache, fetch: o.fetch, headers: o.headers, signal: o.signal }) : localFiles(o.files!);
  const report = (e: DiffusionLoadProgress) => o.onProgress?.(e);
  const { backend, reason, shaderF16 } = await chooseBackend(o.backend);

  report({ phase: 'config', loadedBytes: 0, totalBytes: 0, message: `reading the configs of ${files.description}` });
  const json = async (path: string, required: boolean) => {
    const t = await files.text(path);
    if (t === undefined) {
      if (required) throw new ModelFileError('InvalidModelFile', `${path} is missing from ${files.description}; is this a Stable Diffusion ONNX export (optimum / diffusers layout)?`);
      return undefined;
    }
    return parseJsonObject(t, path);
  };
  const [modelIndex, schedulerConfig, vaeConfig, unetConfig] = await Promise.all([
    json('model_index.json', true),
    json('scheduler/scheduler_config.json', true),
    json('vae_decoder/config.json', false),
    json('unet/config.json', false),
  ]);
  const [vocab, merges, specialTokensMap, tokenizerConfig] = await Promise.all(
    ['tokenizer/vocab.json', 'tokenizer/merges.txt', 'tokenizer/special_tokens_map.json', 'tokenizer/tokenizer_config.json'].map((p) => files.text(p)),
  );
  if (vocab === undefined || merges === undefined) throw new ModelFileError('InvalidModelFile', `tokenizer/vocab.json and tokenizer/merges.txt are needed in ${files.description}`);
  let clip: ClipTokenizer;
  try {
    clip = ClipTokenizer.fromFiles({ vocab, merges, specialTokensMap: specialTokensMap ?? null, tokenizerConfig: tokenizerConfig ?? null });
  } catch (e) {
    throw new ModelFileError('UnsupportedTokenizer', `tokenizer/: ${(e as Error).message}`, { cause: e });
  }
  const tokenizer: PromptTokenizer = { length: clip.maxLength, encode: (text) => clip.encode(text).ids };
  void modelIndex;

  const scalingRaw = vaeConfig?.['scaling_factor'];
  const scalingFactor = typeof scalingRaw === 'number' && scalingRaw > 0 ? scalingRaw : DEFAULT_SCALING_FACTOR;
  const sampleSize = unetConfig?.['sample_size'];
  const defaultSize = typeof sampleSize === 'number' && sampleSize > 0 ? sampleSize * 8 : 512;

  const ort: Ort = await loadOrtFor(backend, o);
  const sizes: Record<string, number> = {};
  const progress = (component: string) => (p: FileProgress) =>
    report({ phase: p.phase, component, file: p.file, loadedBytes: p.loadedBytes, totalBytes: p.totalBytes, rate: p.rate, etaSeconds: p.etaSeconds, message: `${p.file}: ${p.loadedBytes} of ${p.totalBytes} bytes` });

  const readComponent = async (component: string): Promise<ComponentFile> => {
    const name = `${component}/model.onnx`;
    const model = await files.bytes(name, progress(component));
    sizes[name] = model.length;
    const info = readOnnxModelInfo(model, name);
    const file: ComponentFile = { model, info, externalData: [], name };
    // Refuse a half-precision model where it cannot run before reading gigabytes of its weights.
    checkPrecision(file, backend, shaderF16);
    for (const ext of info.externalDataFiles) {
      const path = `${component}/${ext}`;
      const data = await files.bytes(path, progress(component));
      sizes[path] = data.length;
      file.externalData.push({ path: ext, data });
    }
    return file;
  };

  const made: { release(): Promise<void> }[] = [];
  try {
    const sessions: Record<string, unknown> = {};
    let done = 0;
    const make = async (component: (typeof COMPONENTS)[number]) => {
      const file = await readComponent(component);
      report({ phase: 'session', component, loadedBytes: done, totalBytes: 3, message: `${component}: creating the onnxruntime-web session (${backend})` });
      const session = await createSession(ort, file, backend);
      const c =
        component === 'text_encoder' ? new OrtTextEncoder(ort, session, file) : component === 'unet' ? new OrtUnet(ort, session, file, backend) : new OrtVaeDecoder(ort, session, file);
      made.push(c);
      sessions[component] = c;
      file.externalData.length = 0; // let the weight bytes go: the session holds its own copy
      done++;
      return c;
    };
    // One at a time: each file's bytes are dropped once its session exists, bounding peak memory.
    const textEncoder = (await make('text_encoder')) as OrtTextEncoder;
    const unet = (await make('unet')) as OrtUnet;
    const vaeDecoder = (await make('vae_decoder')) as OrtVaeDecoder;
    o.signal?.throwIfAborted();
    const pipeline = new DiffusionPipeline({ textEncoder, unet, vaeDecoder }, tokenizer, { scalingFactor, defaultSize, schedulerConfig: schedulerConfig! });
    const info: DiffusionInfo = {
      backend,
      backendReason: reason,
      fp16: unet.fp16,
      hiddenSize: textEncoder.hiddenSize,
      scalingFactor,
      defaultSize,
      schedulerClass: String(schedulerConfig!['_class_name'] ?? ''),
      unetMaxBatch: unet.maxBatch,
      files: sizes,
    };
    report({ phase: 'ready', loadedBytes: 3, totalBytes: 3, message: `ready on ${backend}` });
    return { pipeline, info };
  } catch (e) {
    await Promise.allSettled(made.map((c) => c.release()));
    throw e;
  }
}

export { isFp16 };

/**
 * Loading a Stable Diffusion ONNX export into a DiffusionPipeline in this thread: configs, tokenizer, and the
 * three components, with progress. The engine reads the files it is handed (./model_files.ts: the runtime
 * opens URLs through the IndexedDB weight cache) and makes its components with the ComponentExecutor it is
 * handed (./components.ts: the backend layer's onnxruntime-web one), so it imports neither. The page-facing
 * loadDiffusion (in a Web Worker by default) is src/runtime/diffusion_load.ts.
 */
import { ModelFileError } from '../errors';
import { readOnnxModelInfo } from '../formats/onnx/model_info';
import { ClipTokenizer } from './clip_tokenizer';
import type { ComponentBackend, ComponentExecutor, ComponentFile } from './components';
import { parseJsonObject, type FileProgress, type ModelFiles } from './model_files';
import { DiffusionPipeline, type PromptTokenizer } from './pipeline';

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

/** What the engine itself takes besides its files and executor. */
export interface DiffusionEngineOptions {
  signal?: AbortSignal;
  onProgress?: (e: DiffusionLoadProgress) => void;
}

export interface DiffusionInfo {
  backend: ComponentBackend;
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

/** Loads the export in `files` in this thread, its networks made by `executor`. */
export async function loadDiffusionFrom(files: ModelFiles, executor: ComponentExecutor, o: DiffusionEngineOptions = {}): Promise<{ pipeline: DiffusionPipeline; info: DiffusionInfo }> {
  const report = (e: DiffusionLoadProgress) => o.onProgress?.(e);
  const { backend, reason } = executor;

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

  await executor.prepare();
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
    executor.check(file);
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
    let done = 0;
    const make = async <C extends { release(): Promise<void> }>(component: (typeof COMPONENTS)[number], create: (file: ComponentFile) => Promise<C>): Promise<C> => {
      const file = await readComponent(component);
      report({ phase: 'session', component, loadedBytes: done, totalBytes: 3, message: `${component}: creating the ${executor.runtimeName} session (${backend})` });
      const c = await create(file);
      made.push(c);
      file.externalData.length = 0; // let the weight bytes go: the session holds its own copy
      done++;
      return c;
    };
    // One at a time: each file's bytes are dropped once its session exists, bounding peak memory.
    const textEncoder = await make('text_encoder', (f) => executor.textEncoder(f));
    const unet = await make('unet', (f) => executor.unet(f));
    const vaeDecoder = await make('vae_decoder', (f) => executor.vaeDecoder(f));
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

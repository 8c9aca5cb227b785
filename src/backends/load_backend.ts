/**
 * loadModel's routing below the runtime: which format the options name (a GGUF file, or an optimum /
 * transformers.js ONNX folder), which backend runs it (./choose.ts), and the loader for that pair:
 *
 *   GGUF + 'webgpu'              our kernels       } src/llm/load_model.ts, passed in by the runtime as `native`
 *   GGUF + 'wasm' | 'ort-webgpu'  exported to ONNX  } (onnxruntime-web: ./ort/load_ort_model.ts)
 *   ONNX + 'wasm' | 'ort-webgpu'  ./ort/onnx_model.ts
 *
 * A `gpu` passed in (Node) counts as asking for WebGPU. The choice is stated in a progress event and in
 * `llm.info.backend` / `backendReason`. With 'auto', a GGUF
 * file whose shapes our kernels refuse (ModelFileError UnsupportedArchitecture, before any GPU work) goes to
 * WASM; an explicit 'webgpu' reports that as BackendUnavailableError instead. A weight type that no backend
 * runs stays the UnsupportedQuantType ModelFileError.
 */
import { BackendUnavailableError, ModelFileError } from '../errors';
import type { ByteSource } from '../formats/byte_source';
import type { LanguageModel } from '../llm/language_model';
import type { LoadModelOptions as EngineOptions, SourceHooks } from '../llm/load_model';
import type { RequestedDevice } from '../gpu';
import { chooseBackendKeepingDevice, type BackendChoice, type BackendRequest, type ModelFormat } from './choose';
import { HF_TOKENIZER_KEY } from './ort/hf_tokenizer';
import type { OpenedFile } from './ort/onnx_folder';
import { loadOnnxModel, type OnnxDtype, type OnnxFolderFiles } from './ort/onnx_model';
import type { OrtRuntimeOptions } from './ort/ort_runtime';

/** loadModel's options that concern formats and backends. */
export interface BackendOptions extends OrtRuntimeOptions {
  /**
   * 'auto' (default): our WebGPU kernels on a hardware adapter for models they run, else onnxruntime-web
   * on WASM (ONNX folders: onnxruntime-web on WebGPU, else WASM). See src/backends/choose.ts.
   */
  backend?: BackendRequest;
  /** 'onnx': `url` is an optimum / transformers.js folder. Default: ONNX when `files` is given or `url` ends in '/', else GGUF. */
  format?: ModelFormat;
  /** An ONNX folder's files by path ('config.json', 'onnx/model.onnx', …). */
  files?: OnnxFolderFiles;
  /** ONNX: which weights file (transformers.js dtype names). Default fp32. */
  dtype?: OnnxDtype;
  /** ONNX: a model file path inside the folder, instead of the one dtype names. */
  modelFile?: string;
}

export interface BackendIo {
  /** Opens a file through the runtime (the IndexedDB weight cache for URLs). */
  open: (source: ByteSource) => Promise<OpenedFile>;
  /** The tokenizer's metadata, for a page-side copy (the worker runtime). */
  onMetadata?: (metadata: Record<string, unknown>) => void;
  /**
   * The engine on a GGUF file for options.backend 'webgpu', 'wasm' or 'ort-webgpu' (the runtime's loader:
   * src/llm/load_model.ts for 'webgpu', loadGgufOnOrt below for the others). For 'webgpu', `takeDevice`
   * hands over the device the backend choice already requested (SourceHooks.takeDevice).
   */
  native: (options: EngineOptions, takeDevice?: () => RequestedDevice | undefined) => Promise<LanguageModel>;
}

export function modelFormatOf(o: Pick<BackendOptions, 'format' | 'files'> & { url?: string }): ModelFormat {
  if (o.format) return o.format;
  if (o.files !== undefined) return 'onnx';
  return o.url !== undefined && /\/(\?.*)?$/.test(o.url) ? 'onnx' : 'gguf';
}

export async function loadOnBackend(options: EngineOptions & BackendOptions, io: BackendIo): Promise<LanguageModel> {
  const onProgress = options.onProgress ?? (() => {});
  const format = modelFormatOf(options);
  const gpu = options.gpu;
  const acquired = gpu !== undefined && 'device' in gpu;
  let choice: BackendChoice;
  let trial: RequestedDevice | undefined;
  // A GPU passed in (Node's `webgpu` package, or a device already acquired) is the caller choosing WebGPU:
  // 'auto' then means our kernels on it, whatever the adapter (as 'webgpu' would).
  const requested = options.backend ?? 'auto';
  if (gpu !== undefined && (requested === 'auto' || requested === 'webgpu') && format === 'gguf') {
    const reason = requested === 'webgpu' ? 'requested, on the GPU passed in' : 'a GPU was passed in';
    if (acquired) choice = { backend: 'webgpu', reason };
    else {
      ({ choice, trial } = await chooseBackendKeepingDevice({ requested: 'webgpu', format, gpu: gpu as GPU, precision: options.precision }));
      choice = { ...choice, reason };
    }
  } else {
    ({ choice, trial } = await chooseBackendKeepingDevice({ requested, format, gpu: acquired ? undefined : (gpu as GPU | undefined), precision: options.precision }));
  }
  const state = (c: BackendChoice) => onProgress({ phase: 'metadata', loadedBytes: 0, totalBytes: 0, message: `backend ${c.backend}: ${c.reason}` });
  state(choice);

  if (format === 'onnx') {
    return loadOnnxModel(
      { ...options, url: options.url, files: options.files, backend: choice.backend as 'wasm' | 'ort-webgpu', gpu: undefined },
      {
        choice,
        open: (url) => io.open({ url }),
        onTokenizer: io.onMetadata && ((spec) => io.onMetadata!({ [HF_TOKENIZER_KEY]: spec })),
      },
    );
  }

  const takeDevice = () => {
    const t = trial;
    trial = undefined;
    return t;
  };
  const run = async (c: BackendChoice) => {
    try {
      const llm = await io.native({ ...options, backend: c.backend }, c.backend === 'webgpu' ? takeDevice : undefined);
      Object.assign(llm.info, { backend: c.backend, backendReason: c.reason });
      return llm;
    } finally {
      takeDevice()?.device.destroy(); // the engine did not take it: nobody will
    }
  };
  if (choice.backend === 'webgpu') {
    try {
      return await run(choice);
    } catch (e) {
      // Shapes our kernels do not take can still run on onnxruntime-web. Weight types cannot: every backend
      // runs the same ones, so an UnsupportedQuantType is the file's problem and goes to the caller as is.
      const refused = e instanceof ModelFileError && e.code === 'UnsupportedArchitecture';
      if (!refused) throw e;
      if ((options.backend ?? 'auto') !== 'auto') throw new BackendUnavailableError('webgpu', `${e.message}; use backend 'wasm' or 'auto'`, { cause: e });
      choice = { backend: 'wasm', reason: `${e.message} (our kernels), so onnxruntime-web on WASM` };
      state(choice);
    }
  }
  return run(choice);
}

/**
 * A GGUF file (opened by the runtime) on onnxruntime-web, backend 'wasm' or 'ort-webgpu': exported to ONNX
 * and run by ./ort/load_ort_model.ts. Imported on demand: pages on our kernels never load onnxruntime-web or
 * the exporter.
 */
export async function loadGgufOnOrt(opened: ByteSource, options: EngineOptions & OrtRuntimeOptions, hooks: SourceHooks = {}): Promise<LanguageModel> {
  const [{ loadOrt }, { loadOrtModelFrom }] = await Promise.all([import('./ort/ort_runtime'), import('./ort/load_ort_model')]);
  const ep = options.backend === 'ort-webgpu' ? 'webgpu' : 'wasm';
  const llm = await loadOrtModelFrom(await loadOrt(ep, options), opened, { ...options, executionProvider: ep, reason: 'requested', onMetadata: hooks.onMetadata });
  await hooks.whenComplete?.().catch(async (e: unknown) => {
    await llm.unload();
    throw e;
  });
  return llm;
}

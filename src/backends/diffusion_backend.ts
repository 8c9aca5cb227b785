/**
 * loadDiffusion's backend choice: onnxruntime-web on WebGPU (a hardware adapter) or WASM, and the executor
 * for it (./ort/diffusion_components.ts) handed to the diffusion loader (src/diffusion/load.ts), which reads
 * the files the runtime opened. The pipeline itself never imports onnxruntime.
 */
import { InvalidArgumentError } from '../errors';
import type { ComponentBackend } from '../diffusion/components';
import { loadDiffusionFrom, type DiffusionEngineOptions, type DiffusionInfo } from '../diffusion/load';
import type { ModelFiles } from '../diffusion/model_files';
import type { DiffusionPipeline } from '../diffusion/pipeline';
import { ortComponentExecutor } from './ort/diffusion_components';
import type { OrtRuntimeOptions } from './ort/ort_runtime';

export type DiffusionBackend = 'auto' | ComponentBackend;

/** loadDiffusion's options that concern the backend. */
export interface DiffusionBackendOptions extends OrtRuntimeOptions {
  /** 'auto' (default): WebGPU on a hardware GPU adapter, else WASM; or force one. */
  backend?: DiffusionBackend;
}

/** What to run on, and why. */
export async function chooseDiffusionBackend(requested: DiffusionBackend = 'auto'): Promise<{ backend: ComponentBackend; reason: string; shaderF16: boolean }> {
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

/** Chooses the backend, then loads the export in `files` with its components on it. */
export async function loadDiffusionOnBackend(
  options: DiffusionBackendOptions & DiffusionEngineOptions,
  files: ModelFiles,
): Promise<{ pipeline: DiffusionPipeline; info: DiffusionInfo }> {
  const { backend, reason, shaderF16 } = await chooseDiffusionBackend(options.backend);
  const executor = ortComponentExecutor(backend, reason, shaderF16, { ortWasmPaths: options.ortWasmPaths, ortThreads: options.ortThreads });
  return loadDiffusionFrom(files, executor, { signal: options.signal, onProgress: options.onProgress });
}

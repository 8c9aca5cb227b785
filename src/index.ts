/**
 * inpage's public API. Everything a page imports comes from here (and, for the script-tag build, is put on
 * `globalThis.inpage`).
 */
// The public types name WebGPU's (GPU, GPUDevice, …), which TypeScript's DOM library does not declare yet:
// the package depends on @webgpu/types, and this directive (kept in dist/types/index.d.ts) loads them in
// the consumer's program.
/// <reference types="@webgpu/types" preserve="true" />
import { acquireGpu, type AcquireGpuOptions, type GpuCapabilities } from './gpu';

export * from './errors';
export { acquireGpu, Gpu, type DeviceLostInfo, type Precision } from './gpu';
export type { AcquireGpuOptions, GpuCapabilities };
export type { LoadProgressEvent } from './llm/load_model';
export { loadModel, type LoadModelOptions } from './runtime/load';
/** Stable Diffusion (text to image) from an ONNX export's folder, on onnxruntime-web (WebGPU or WASM). */
export { loadDiffusion, type LoadDiffusionOptions, type DiffusionModel } from './runtime/diffusion_load';
export type { DiffusionInfo, DiffusionLoadProgress } from './diffusion/load';
export type { DiffusionBackend } from './backends/diffusion_backend';
export type { GenerateOptions, DiffusionImage, StepEvent } from './diffusion/pipeline';
/** ONNX models in the optimum / transformers.js folder layout, on onnxruntime-web (WebGPU or WASM; loaded on first use). */
export { loadOnnxModel, type LoadOnnxModelOptions, type OnnxDtype, type OnnxFolderFiles } from './backends/ort/onnx_model';
export { chooseBackend, type Backend, type BackendChoice, type BackendRequest } from './backends/choose';
export type { LanguageModel, ModelInfo } from './runtime/types';
export type { ModelTokenizer } from './llm/language_model';
export type * from './llm/api_types';
/** The IndexedDB weight cache: `cache.list()`, `cache.delete(url)`, `cache.clear()`; loadModel's `cache` option. */
export { cache, CorruptCacheError, QuotaExceededError, type CacheEntry, type CacheProgressEvent, type WeightCacheOptions } from './runtime/cache';

/** The library version (kept in step with package.json by a test). */
export const version = '0.1.0';

/**
 * What this browser's GPU can do, for diagnostics panels and backend choice: adapter info, optional
 * features (shader-f16, subgroups, timestamp-query), the limits that matter, and which activation
 * precision inpage would use. The device used to ask is destroyed before returning.
 */
export async function capabilities(options: AcquireGpuOptions = {}): Promise<GpuCapabilities & { precision: 'f32' | 'f16' }> {
  const gpu = await acquireGpu(options);
  try {
    return { ...gpu.caps, precision: gpu.precision };
  } finally {
    gpu.destroy();
  }
}

/**
 * Low-level access to the GPU layer and kernels, for advanced use, diagnostics and the browser tests.
 * The model-level API (loadModel) builds on these.
 */
export * as gpu from './gpu';
export * as ops from './ops';

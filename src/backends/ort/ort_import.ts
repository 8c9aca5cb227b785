/**
 * Where onnxruntime-web comes from. Kept in its own module because the library build replaces it
 * (vite.config.ts, plugin `ortLocation`):
 *  - here (Node, vitest, the demo's Vite build, bundlers consuming our sources) the package is imported by
 *    name and the bundler places its .wasm/.mjs files;
 *  - in dist/inpage.js, dist/inpage.worker.js and dist/inpage.iife.js onnxruntime-web is NOT bundled: those
 *    import `./ort/ort.webgpu.min.mjs` or `./ort/ort.wasm.min.mjs` next to themselves, lazily, on the first
 *    ONNX or WASM load, and onnxruntime-web finds its .wasm beside that. Pages that only use our own
 *    kernels never download it.
 */
import type * as Ort from 'onnxruntime-web';

export type OrtModule = typeof Ort;

/** Which onnxruntime-web build: 'webgpu' (WebGPU and WASM EPs, the asyncify binary) or 'wasm' (WASM only, smaller). */
export type OrtBuild = 'webgpu' | 'wasm';

export function importOrtBuild(build: OrtBuild): Promise<OrtModule> {
  return (build === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web/wasm')) as Promise<OrtModule>;
}

/** The folder holding onnxruntime-web's files in the library build (dist/ort/); undefined elsewhere. */
export function ortFilesBase(): string | undefined {
  return undefined;
}

/**
 * Where onnxruntime-web comes from. Kept in its own module because the library build replaces it
 * (vite.config.ts, plugin `ortLocation`):
 *  - here (Node, vitest, the demo's Vite build, bundlers consuming our sources) the package is imported by
 *    name and the bundler places its .wasm/.mjs files;
 *  - in dist/inpage.js, dist/inpage.worker.js and dist/inpage.iife.js onnxruntime-web is NOT bundled: they
 *    import dist/ort/ort.webgpu.min.mjs or dist/ort/ort.wasm.min.mjs lazily, on the first ONNX or WASM
 *    load, and point onnxruntime-web at the .mjs/.wasm beside it. In the ES builds those URLs are written
 *    as `new URL('./ort/…', import.meta.url)`, so a page importing dist/inpage.js by URL resolves them next
 *    to it, and an app bundling the npm package (Vite, webpack, …) emits the files as assets. Pages that
 *    only use our own kernels never download any of it.
 */
import type * as Ort from 'onnxruntime-web';

export type OrtModule = typeof Ort;

/** Which onnxruntime-web build: 'webgpu' (WebGPU and WASM EPs, the asyncify binary) or 'wasm' (WASM only, smaller). */
export type OrtBuild = 'webgpu' | 'wasm';

export function importOrtBuild(build: OrtBuild): Promise<OrtModule> {
  return (build === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web/wasm')) as Promise<OrtModule>;
}

/** The runtime files of `build` as onnxruntime-web's env.wasm.wasmPaths, in the library build; undefined elsewhere. */
export function ortFilePaths(_build: OrtBuild): { mjs: string; wasm: string } | undefined {
  return undefined;
}

/**
 * Loads onnxruntime-web on first use (never at page load: the native path does not pay for it) and sets its
 * environment once: where its .wasm/.mjs files are, and how many threads.
 */
import { BackendUnavailableError } from '../../errors';
import { importOrtBuild, ortFilePaths, type OrtBuild, type OrtModule } from './ort_import';

export type { OrtBuild, OrtModule };

export interface OrtRuntimeOptions {
  /**
   * Where onnxruntime-web's files (ort-wasm-simd-threaded*.wasm / .mjs) are served from: a folder URL
   * ending in '/', or onnxruntime-web's `{ wasm, mjs }` file URLs. Default: the library build's `ort/`
   * folder beside inpage.js (see ./ort_import.ts); in an app bundle, wherever the bundler put them.
   */
  ortWasmPaths?: string | { wasm?: string; mjs?: string };
  /** WASM threads (default: onnxruntime-web's choice, which needs a cross-origin-isolated page for more than 1). */
  ortThreads?: number;
}

const loaded = new Map<OrtBuild, Promise<OrtModule>>();

/** The onnxruntime-web module for `build`, imported and configured once per page/worker. */
export function loadOrt(build: OrtBuild, options: OrtRuntimeOptions = {}): Promise<OrtModule> {
  let p = loaded.get(build);
  if (!p) {
    p = importOrtBuild(build).then(
      (ort) => {
        configure(ort, build, options);
        return ort;
      },
      (e: unknown) => {
        loaded.delete(build); // let a later load retry (e.g. after a network error)
        throw new BackendUnavailableError(build === 'webgpu' ? 'ort-webgpu' : 'wasm', `onnxruntime-web could not be loaded (${(e as Error)?.message ?? e})`, { cause: e });
      },
    );
    loaded.set(build, p);
  }
  return p;
}

function configure(ort: OrtModule, build: OrtBuild, o: OrtRuntimeOptions): void {
  const paths = o.ortWasmPaths ?? ortFilePaths(build);
  if (paths !== undefined) ort.env.wasm.wasmPaths = paths;
  if (o.ortThreads !== undefined) ort.env.wasm.numThreads = o.ortThreads;
  else if (typeof crossOriginIsolated === 'undefined' || !crossOriginIsolated) ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
}

/**
 * Session options that keep a decoder's key/value cache on the GPU under the WebGPU EP: present.* stay
 * as GPU buffers and go back in as the next step's past_key_values.* (OrtDecoder disposes the old ones).
 */
export function gpuKvSessionOptions(nLayers: number): { preferredOutputLocation: Record<string, 'gpu-buffer'> } {
  const names = Array.from({ length: nLayers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat();
  return { preferredOutputLocation: Object.fromEntries(names.map((n) => [n, 'gpu-buffer' as const])) };
}

import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AliasOptions, Plugin } from 'vite';

/**
 * Shared by the library and demo builds. @huggingface/gguf imports only its GGUF quant-type tables from
 * @huggingface/tasks, but through that package's index, which drags every task description (~500 kB)
 * into the bundle. Point the import at the one module it uses.
 */
export const aliases: AliasOptions = {
  '@huggingface/tasks': fileURLToPath(new URL('./node_modules/@huggingface/tasks/dist/esm/gguf.js', import.meta.url)),
};

/**
 * The script-tag build's own URL, taken while the script first runs (document.currentScript is set only
 * then; modules inside the bundle may be initialised later, on first use).
 */
export const ORT_SCRIPT_BASE =
  "var __inpage_script_base = typeof document !== 'undefined' && document.currentScript && 'src' in document.currentScript && document.currentScript.src ? document.currentScript.src : typeof location !== 'undefined' ? location.href : 'http://invalid/';";

/** onnxruntime-web's files that the library ships in dist/ort/ (see src/backends/ort/ort_import.ts). */
export const ORT_FILES = [
  'ort.webgpu.min.mjs', // the WebGPU + WASM execution providers …
  'ort-wasm-simd-threaded.asyncify.mjs', // … whose runtime is the asyncify build
  'ort-wasm-simd-threaded.asyncify.wasm',
  'ort.wasm.min.mjs', // WASM only: the CPU fallback, half the download
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
];

/**
 * How the library builds load onnxruntime-web: not bundled (inlineDynamicImports would put its JS, and its
 * .wasm as base64 — 38 MB measured — into inpage.js), but imported lazily from dist/ort/, copied there from
 * the npm package, so the npm build, the CDN build and the demo need no origin but their own. The source
 * module src/backends/ort/ort_import.ts is replaced. In the ES builds the file URLs are written, after
 * Vite's own asset handling (renderChunk), as literal `new URL('./ort/…', import.meta.url)`: browsers
 * resolve them next to inpage.js / inpage.worker.js, and an app bundling the npm package emits them as
 * assets. In the script-tag build they resolve against the script's src. Any other runtime import of
 * onnxruntime-web fails the build (type imports are fine).
 *
 * The demo's build uses it too (`copyTo` its assets folder, where its page and worker chunks are): bundled
 * from the package, onnxruntime-web would start its WASM threads from `self.location.href` — in a bundled
 * worker, that worker's own script, which never answers (a load stuck at the weight upload with 2 threads).
 * With its own .mjs named in env.wasm.wasmPaths, the threads start from that file.
 */
export function ortLocation(format: 'es' | 'iife', { copyTo = format === 'es' ? 'dist/ort/' : false }: { copyTo?: string | false } = {}): Plugin {
  const isOrtImport = (id: string) => id.replace(/\\/g, '/').endsWith('/src/backends/ort/ort_import.ts');
  const placeholder = '__inpage_ort_files__';
  const files = {
    webgpu: { module: 'ort.webgpu.min.mjs', mjs: 'ort-wasm-simd-threaded.asyncify.mjs', wasm: 'ort-wasm-simd-threaded.asyncify.wasm' },
    wasm: { module: 'ort.wasm.min.mjs', mjs: 'ort-wasm-simd-threaded.mjs', wasm: 'ort-wasm-simd-threaded.wasm' },
  };
  const url = (file: string) => (format === 'es' ? `new URL('./ort/${file}', import.meta.url).href` : `new URL('./ort/${file}', __inpage_script_base).href`);
  const table = `{ ${Object.entries(files)
    .map(([build, f]) => `${build}: { module: ${url(f.module)}, mjs: ${url(f.mjs)}, wasm: ${url(f.wasm)} }`)
    .join(', ')} }`;
  let seen = 0;
  return {
    name: 'inpage-ort-location',
    enforce: 'pre',
    resolveId(source, importer) {
      if (/^onnxruntime-web(\/|$)/.test(source) && importer && !isOrtImport(importer)) {
        this.error(`${importer} imports ${source}: load onnxruntime-web through src/backends/ort/ort_runtime.ts (loadOrt), so the library build keeps it out of inpage.js`);
      }
    },
    transform(code, id) {
      if (!isOrtImport(id)) return;
      if (!code.includes('export function importOrtBuild') || !code.includes('export function ortFilePaths')) this.error('ort_import.ts should export importOrtBuild and ortFilePaths');
      // The table is evaluated when the bundle first runs (a script's currentScript is only set then).
      const out =
        `const ortFiles = ${placeholder};\n` +
        'export function importOrtBuild(build) { return import(/* @vite-ignore */ ortFiles[build].module); }\n' +
        'export function ortFilePaths(build) { return { mjs: ortFiles[build].mjs, wasm: ortFiles[build].wasm }; }\n';
      return { code: out, map: null };
    },
    renderChunk(code) {
      if (!code.includes(placeholder)) return;
      const re = new RegExp(`\\b${placeholder}\\b`, 'g');
      seen += (code.match(re) ?? []).length;
      return { code: code.replace(re, table), map: null };
    },
    generateBundle() {
      if (seen > 1) this.error(`expected the onnxruntime-web file table at most once in the output, found it ${seen} times`);
    },
    closeBundle() {
      if (!copyTo) return;
      const from = fileURLToPath(new URL('./node_modules/onnxruntime-web/dist/', import.meta.url));
      const to = fileURLToPath(new URL(`./${copyTo}`, import.meta.url));
      mkdirSync(to, { recursive: true });
      for (const f of ORT_FILES) copyFileSync(from + f, to + f);
    },
  };
}

import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, defineConfig, type Plugin } from 'vite';
import { aliases } from './vite.shared';

// Library builds. `vite build` writes dist/inpage.js (ESM, self-contained: WGSL is inlined as strings,
// nothing is loaded with eval or new Function) and dist/inpage.worker.js (the engine's worker, also one
// self-contained ES module); `vite build --mode iife` writes dist/inpage.iife.js, the script-tag build that
// puts the API on globalThis.inpage. Types come from `tsc -p tsconfig.build.json`.
export default defineConfig(({ mode }) => {
  const iife = mode === 'iife';
  return {
    resolve: { alias: aliases },
    // public/ holds the demo's assets (the built-in model); the library package must not carry them.
    publicDir: false,
    plugins: [workerLocation(iife ? 'iife' : 'es'), ortLocation(iife ? 'iife' : 'es')],
    build: {
      outDir: 'dist',
      emptyOutDir: !iife,
      target: 'es2022',
      sourcemap: true,
      // One file: a page can import() dist/inpage.js by URL with nothing else to resolve.
      // iife: the script's URL, captured as the script starts (see ortLocation).
      rollupOptions: { output: { inlineDynamicImports: true, ...(iife ? { intro: ORT_SCRIPT_BASE } : {}) } },
      minify: false,
      lib: iife
        ? { entry: 'src/cdn.ts', formats: ['iife'], name: 'inpage', fileName: () => 'inpage.iife.js' }
        : { entry: 'src/index.ts', formats: ['es'], fileName: () => 'inpage.js' },
    },
  };
});

/**
 * How the library finds its worker (src/runtime/spawn.ts). The source says
 * `new Worker(new URL('./inpage.worker.js', import.meta.url), …)`, which the demo's Vite build resolves to
 * src/runtime/inpage.worker.ts and bundles. In the library builds:
 *  - es: that expression must reach dist/inpage.js unchanged (browsers resolve it next to the module;
 *    bundlers consuming the package recognise it and emit the worker), so it is hidden from Vite's own
 *    worker handling (which would rewrite it) behind a same-length placeholder and put back afterwards;
 *    the worker itself is built by a second, separate build into dist/inpage.worker.js.
 *  - iife: there is no import.meta in a classic script: `import.meta.url` in spawn.ts becomes the script's
 *    src, captured while the script runs.
 */
function workerLocation(format: 'es' | 'iife'): Plugin {
  const literal = "new URL('./inpage.worker.js', import.meta.url)";
  const emitted = 'new URL("./inpage.worker.js", import.meta.url)';
  const placeholder = '__inpage_worker_url__'.padEnd(emitted.length, '_');
  const isSpawn = (id: string) => id.replace(/\\/g, '/').endsWith('/src/runtime/spawn.ts');
  let seen = 0;
  return {
    name: 'inpage-worker-location',
    enforce: 'pre',
    transform(code, id) {
      if (!isSpawn(id)) return;
      if (code.split(literal).length !== 2) this.error(`spawn.ts should contain ${literal} exactly once`);
      if (format === 'es') return { code: code.replace(literal, placeholder), map: null };
      const capture =
        "const __inpageScriptUrl = typeof document !== 'undefined' && document.currentScript && 'src' in document.currentScript && document.currentScript.src ? document.currentScript.src : typeof location !== 'undefined' ? location.href : undefined;";
      const own = /(const moduleUrl\b[^=]*= )import\.meta\.url;/;
      if (!own.test(code)) this.error('spawn.ts should set moduleUrl from import.meta.url');
      const out = code.replace(literal, "new URL('./inpage.worker.js', __inpageScriptUrl)").replace(own, '$1__inpageScriptUrl;');
      return { code: `${capture} ${out}`, map: null }; // one line, so the source map stays close
    },
    renderChunk(code) {
      if (format !== 'es' || !code.includes(placeholder)) return;
      seen += code.split(placeholder).length - 1;
      return { code: code.replaceAll(placeholder, emitted), map: null };
    },
    async generateBundle() {
      if (format === 'es' && seen !== 1) this.error(`expected the worker URL placeholder once in the output, found it ${seen} times`);
    },
    async closeBundle() {
      if (format !== 'es') return;
      await build({
        configFile: false,
        publicDir: false,
        logLevel: 'warn',
        resolve: { alias: aliases },
        plugins: [ortLocation('es', { copy: false })],
        build: {
          outDir: 'dist',
          emptyOutDir: false,
          target: 'es2022',
          sourcemap: true,
          minify: false,
          rollupOptions: { output: { inlineDynamicImports: true } },
          lib: { entry: 'src/runtime/inpage.worker.ts', formats: ['es'], fileName: () => 'inpage.worker.js' },
        },
      });
    },
  };
}

/**
 * The script-tag build's own URL, taken while the script first runs (document.currentScript is set only
 * then; modules inside the bundle may be initialised later, on first use).
 */
const ORT_SCRIPT_BASE =
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
 */
function ortLocation(format: 'es' | 'iife', { copy = format === 'es' }: { copy?: boolean } = {}): Plugin {
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
      if (!copy) return;
      const from = fileURLToPath(new URL('./node_modules/onnxruntime-web/dist/', import.meta.url));
      const to = fileURLToPath(new URL('./dist/ort/', import.meta.url));
      mkdirSync(to, { recursive: true });
      for (const f of ORT_FILES) copyFileSync(from + f, to + f);
    },
  };
}

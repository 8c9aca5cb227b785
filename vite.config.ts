import { build, defineConfig, type Plugin } from 'vite';
import { aliases, ORT_SCRIPT_BASE, ortLocation } from './vite.shared';

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
        plugins: [ortLocation('es', { copyTo: false })],
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

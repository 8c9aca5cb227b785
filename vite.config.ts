import { defineConfig } from 'vite';
import { aliases } from './vite.shared';

// Library builds. `vite build` writes dist/inpage.js (ESM, self-contained: WGSL is inlined as strings,
// nothing is loaded with eval or new Function); `vite build --mode iife` writes dist/inpage.iife.js, the
// script-tag build that puts the API on globalThis.inpage. Types come from `tsc -p tsconfig.build.json`.
export default defineConfig(({ mode }) => {
  const iife = mode === 'iife';
  return {
    resolve: { alias: aliases },
    build: {
      outDir: 'dist',
      emptyOutDir: !iife,
      target: 'es2022',
      sourcemap: true,
      // One file: a page can import() dist/inpage.js by URL with nothing else to resolve.
      rollupOptions: { output: { inlineDynamicImports: true } },
      minify: false,
      lib: iife
        ? { entry: 'src/cdn.ts', formats: ['iife'], name: 'inpage', fileName: () => 'inpage.iife.js' }
        : { entry: 'src/index.ts', formats: ['es'], fileName: () => 'inpage.js' },
    },
  };
});

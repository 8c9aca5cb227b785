import { defineConfig } from 'vite';
import { aliases, ortLocation } from '../vite.shared';

// The demo app. `npm run demo` serves it on http://127.0.0.1:5173 (a secure context, as WebGPU needs);
// `npm run build:demo` writes static files to demo/dist that any static host can serve.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  publicDir: new URL('../public', import.meta.url).pathname,
  base: './',
  resolve: { alias: aliases },
  // onnxruntime-web from demo/dist/assets/ort/, named explicitly (see ortLocation): page and worker chunks
  // both live in assets/, so './ort/…' resolves there from either.
  plugins: [ortLocation('es', { copyTo: 'demo/dist/assets/ort/' })],
  worker: { format: 'es', plugins: () => [ortLocation('es', { copyTo: false })] },
  server: { host: '127.0.0.1', port: 5173, headers: isolation, fs: { allow: ['..'] } },
  preview: { host: '127.0.0.1', port: 4174, headers: isolation },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', rollupOptions: { output: { inlineDynamicImports: true } } },
});

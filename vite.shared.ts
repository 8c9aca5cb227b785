import { fileURLToPath } from 'node:url';
import type { AliasOptions } from 'vite';

/**
 * Shared by the library and demo builds. @huggingface/gguf imports only its GGUF quant-type tables from
 * @huggingface/tasks, but through that package's index, which drags every task description (~500 kB)
 * into the bundle. Point the import at the one module it uses.
 */
export const aliases: AliasOptions = {
  '@huggingface/tasks': fileURLToPath(new URL('./node_modules/@huggingface/tasks/dist/esm/gguf.js', import.meta.url)),
};

// Runs a TypeScript benchmark through Vite's module runner, so `?raw` WGSL imports resolve exactly as
// in the library build and in vitest. Usage: node bench/run.mjs bench/kernels.ts [args...]
import { create, globals } from 'webgpu';
import { runnerImport } from 'vite';

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp'; // silences a Vulkan loader warning
Object.assign(globalThis, globals);
const [entry, ...args] = process.argv.slice(2);
const { module } = await runnerImport(new URL(`../${entry}`, import.meta.url).pathname);
await module.main({ gpu: create([]), args });
process.exit(0);

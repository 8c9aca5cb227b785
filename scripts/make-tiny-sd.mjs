// Writes the demo's built-in Stable Diffusion model, public/models/tiny-sd/: the tiny RANDOM-weight export
// of test/reference/sd_models.ts (the one the diffusion tests use), in the Hugging Face ONNX layout. The files
// are committed (about 80 kB); run this again only after changing the builder:
//   node scripts/make-tiny-sd.mjs [out-dir]
// The builder is TypeScript, so it is loaded through Vite's module runner, as bench/run.mjs does.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runnerImport } from 'vite';

const out = process.argv[2] ?? fileURLToPath(new URL('../public/models/tiny-sd/', import.meta.url));
const { module } = await runnerImport(fileURLToPath(new URL('../test/reference/sd_models.ts', import.meta.url)));
// Keep the README beside the files; replace everything else.
for (const sub of ['model_index.json', 'scheduler', 'tokenizer', 'text_encoder', 'unet', 'vae_decoder']) rmSync(`${out}/${sub}`, { recursive: true, force: true });
module.writeTinySd(out);
console.log(`wrote the tiny random-weight Stable Diffusion export to ${out}`);
process.exit(0);

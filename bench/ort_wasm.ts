/**
 * Decode and prefill speed of GGUF models on onnxruntime-web's WASM execution provider (loadModel's
 * backend 'wasm': src/backends/ort). `node bench/run.mjs bench/ort_wasm.ts -- --threads N [--only REGEX]
 * [--accuracy 0|4] [--weights auto|nbits|f32]`: the thread count must be fixed before onnxruntime's WASM module starts, so one
 * process measures one count. Models: the fortunes-1.8m fixture (q4_0, q4_k_m) and the synthetic
 * Qwen2-0.5B-shape Q4_0 model that bench/llm.ts writes to bench/.cache/ (run `npm run bench:llm` once).
 * Greedy; the first decode steps after a warm-up generation are timed through the same generation loop
 * as completions.create.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-web';
import { loadOrtModelFrom } from '../src/backends/ort/load_ort_model';
import type { GenerationSession } from '../src/llm/generate';
import { DEFAULT_SAMPLING, type SamplingParams } from '../src/llm/sampler';

const argv = process.argv;
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const threads = Number(arg('--threads') ?? 1);
// Before onnxruntime-web's first session: its WASM module starts once per process with this many threads.
ort.env.wasm.numThreads = threads;
ort.env.logLevel = 'error';

const FIXTURE_DIR = new URL('../../shared/models/fortunes-1.8m/', import.meta.url).pathname;
const SYNTHETIC = new URL('./.cache/qwen2-0.5b-shape-q4_0-v1.gguf', import.meta.url).pathname;
const GREEDY: SamplingParams = { ...DEFAULT_SAMPLING, temperature: 0, logitBias: new Map(), seed: 0 };

async function run(session: GenerationSession, prompt: number[], decode: number) {
  session.reset();
  const stamps: number[] = [];
  const tokenizer = { createStreamDecoder: () => ({ push: () => (stamps.push(performance.now()), ''), flush: () => '' }), isEndOfGeneration: () => false };
  const t0 = performance.now();
  const gen = session.generate({ prompt, sampling: GREEDY, maxTokens: decode + 1, stop: [] }, tokenizer);
  for (let r = await gen.next(); !r.done; r = await gen.next());
  const warm = 2; // the first decode steps are excluded
  const last = stamps.length - 1;
  // Inter-token gaps of the measured steps; on a shared machine the fastest one is the least disturbed.
  const gaps = stamps.slice(warm + 1).map((t, i) => t - stamps[warm + i]!).sort((a, b) => a - b);
  return {
    ttftMs: stamps[0]! - t0, prefillTps: prompt.length / ((stamps[0]! - t0) / 1000),
    decodeTps: (last - warm) / ((stamps[last]! - stamps[warm]!) / 1000),
    medianStepMs: gaps[Math.floor(gaps.length / 2)]!, bestStepMs: gaps[0]!,
  };
}

async function bench(): Promise<void> {
  const only = arg('--only') ? new RegExp(arg('--only')!) : undefined;
  const accuracyLevel = Number(arg('--accuracy') ?? 0) as 0 | 4;
  const matmulWeights = (arg('--weights') ?? 'auto') as 'auto' | 'nbits' | 'f32';
  const heldout = JSON.parse(readFileSync(`${FIXTURE_DIR}reference/heldout_ids.json`, 'utf8')) as number[];
  const models = [
    { name: 'fortunes-1.8m q4_0', path: `${FIXTURE_DIR}fortunes-1.8m-q4_0.gguf`, prompt: heldout.slice(0, 128), decode: 64 },
    { name: 'fortunes-1.8m q4_k_m', path: `${FIXTURE_DIR}fortunes-1.8m-q4_k_m.gguf`, prompt: heldout.slice(0, 128), decode: 64 },
    { name: 'synthetic qwen2-0.5b-shape q4_0', path: SYNTHETIC, prompt: Array.from({ length: 16 }, (_, i) => (i * 7919) % 151000), decode: Number(arg('--decode') ?? 24) },
  ];
  console.log('| model | engine | threads | weights | load | prompt | prefill tok/s | decode tok/s | median step ms | best step ms | load avg |');
  console.log('| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const m of models) {
    if ((only && !only.test(m.name)) || !existsSync(m.path)) continue;
    const t0 = performance.now();
    const llm = await loadOrtModelFrom(ort, { bytes: new Uint8Array(readFileSync(m.path)) }, { accuracyLevel, matmulWeights, contextLength: 1024 });
    const loadS = (performance.now() - t0) / 1000;
    const session = (llm as unknown as { parts: { session: GenerationSession } }).parts.session;
    await run(session, m.prompt.slice(0, -1), 3); // warm-up
    const r = await run(session, m.prompt, m.decode + 2);
    console.log(`| ${m.name} | ort-wasm | ${threads} | ${llm.info.adapter.replace(/^.*, /, '')} | ${loadS.toFixed(1)} s | ${m.prompt.length} | ${r.prefillTps.toFixed(1)} | ${r.decodeTps.toFixed(2)} | ${r.medianStepMs.toFixed(1)} | ${r.bestStepMs.toFixed(1)} (${(1000 / r.bestStepMs).toFixed(1)} tok/s) | ${loadavg()[0]!.toFixed(1)} |`);
    await llm.unload();
  }
}

await bench();
export async function main(): Promise<void> {}

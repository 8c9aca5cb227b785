/**
 * llama.cpp on the CPU (node-llama-cpp's prebuilt binary, never built here), as bench/llm.ts and
 * bench/backends.ts measure it: the file loaded into a one-sequence context (timed), and greedy tokens
 * streamed with the time each arrived.
 */
import { getLlama, LlamaLogLevel, type LlamaContext, type LlamaContextSequence, type Token } from 'node-llama-cpp';

export interface LlamaCppCpu {
  context: LlamaContext;
  /** Seconds to load the model and create the context. */
  loadSeconds: number;
  /** e.g. 'node-llama-cpp localBuild CPU build'. */
  engine: string;
  dispose(): Promise<void>;
}

export async function openLlamaCppCpu(path: string, contextSize: number, threads: number): Promise<LlamaCppCpu> {
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const context = await model.createContext({ contextSize, threads, sequences: 1 });
  return {
    context,
    loadSeconds: (performance.now() - t0) / 1000,
    engine: `node-llama-cpp ${llama.buildType ?? ''} CPU build`.replace('  ', ' '),
    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
}

/** Greedy tokens after `prompt` (from an empty history), up to `n`, with performance.now() at the start (`t`) and at each token. */
export async function timedGreedy(seq: LlamaContextSequence, prompt: readonly number[], n: number): Promise<{ t: number; stamps: number[]; tokens: number[] }> {
  await seq.clearHistory();
  const stamps: number[] = [];
  const tokens: number[] = [];
  const t = performance.now();
  for await (const token of seq.evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
    stamps.push(performance.now());
    tokens.push(Number(token));
    if (tokens.length >= n) break;
  }
  return { t, stamps, tokens };
}

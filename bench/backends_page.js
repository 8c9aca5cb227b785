// The measuring half of bench/backends.ts, plain JavaScript so the same code times every backend: in Node
// (imported by bench/backends.ts) and in Chromium (loaded by URL from a page served by scripts/serve.mjs,
// with the library from /dist/inpage.js). Times are performance.now() differences in ms.

/** Greedy sampling (SamplingParams of src/llm/sampler.ts, temperature 0). */
const greedy = () => ({
  temperature: 0, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0,
  penaltyLastN: 64, logitBias: new Map(), seed: 0,
});

/**
 * One greedy generation through the model's GenerationSession (the loop behind completions.create), from
 * an empty cache. The tokenizer handed to the loop stamps the time of each token as the loop gets it
 * (right after it is sampled and read back). eos undefined: end-of-sequence is ignored, so exactly maxTokens come.
 */
async function generate(llm, prompt, maxTokens, eos) {
  const session = llm.parts.session;
  session.reset();
  const stamps = [];
  const tokenizer = {
    createStreamDecoder: () => ({ push: () => (stamps.push(performance.now()), ''), flush: () => '' }),
    isEndOfGeneration: (t) => eos !== undefined && t === eos,
  };
  const t0 = performance.now();
  const gen = session.generate({ prompt, sampling: greedy(), maxTokens, stop: [] }, tokenizer);
  let r = await gen.next();
  while (!r.done) r = await gen.next();
  return { t0, stamps, tokens: r.value.tokens };
}

/** Prefill tok/s and TTFT from the first stamp; decode tok/s = 1 / mean inter-token gap after `warmupSteps` steps. */
export function times(t0, stamps, promptTokens, warmupSteps) {
  const ttftMs = stamps[0] - t0;
  const itl = stamps.slice(1).map((t, i) => t - stamps[i]).slice(warmupSteps);
  const mean = itl.reduce((a, b) => a + b, 0) / itl.length;
  const sorted = [...itl].sort((a, b) => a - b);
  return { promptTokens, ttftMs, prefillTps: promptTokens / (ttftMs / 1000), decodeTps: 1000 / mean, itlP50Ms: sorted[Math.floor((sorted.length - 1) / 2)], steps: itl.length };
}

/**
 * The measurement every row of our backends gets, on a loaded model: a warm-up generation (a prompt of the
 * same length, other tokens: same prefill shapes and pipelines), the timed run (spec.prompt, then
 * 1 + warmupSteps + decode tokens, EOS ignored), and the check runs (spec.checks: prompts whose greedy
 * continuation until EOS, at most 32 tokens, is returned for comparison with a reference).
 */
export async function measure(llm, spec) {
  const warm = await generate(llm, spec.warmPrompt, 2);
  const run = await generate(llm, spec.prompt, 1 + spec.warmupSteps + spec.decode);
  const checks = [];
  for (const c of spec.checks ?? []) checks.push((await generate(llm, c.promptIds, c.maxTokens, c.eos)).tokens);
  return { warmTtftMs: warm.stamps[0] - warm.t0, run: { ...times(run.t0, run.stamps, spec.prompt.length, spec.warmupSteps), tokens: run.tokens }, checks };
}

/** In the page: load `url` on `backend` in this thread, measure, unload. */
export async function pageLlm({ url, backend, ortThreads, contextLength, spec }) {
  const { loadModel } = await import('/dist/inpage.js');
  const t0 = performance.now();
  const llm = await loadModel({ url, backend, worker: false, contextLength, ...(ortThreads ? { ortThreads } : {}) });
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    const m = await measure(llm, spec);
    return { ...m, loadSeconds, info: { backend: llm.info.backend, adapter: llm.info.adapter, precision: llm.info.precision }, crossOriginIsolated: self.crossOriginIsolated === true, hardwareConcurrency: navigator.hardwareConcurrency };
  } finally {
    await llm.unload();
  }
}

/** In the page: the WebGPU adapter's description. */
export async function adapterInfo() {
  const a = await navigator.gpu?.requestAdapter();
  return a ? `${a.info.vendor} ${a.info.architecture} ${a.info.description}`.trim() : 'none';
}

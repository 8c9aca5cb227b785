// The demo's text-generation panel: load a GGUF model (the built-in one by default), stream a greedy or
// sampled continuation with a stop button, and show time to first token and tokens per second.
import { loadModel, type LanguageModel } from '../src/index';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function setupGeneration(): void {
  let llm: LanguageModel | undefined;
  let abort: AbortController | undefined;
  const pick = $<HTMLSelectElement>('model-pick');
  const urlInput = $<HTMLInputElement>('model-url');
  const status = $('model-status');
  const progress = $<HTMLProgressElement>('model-progress');
  const run = $<HTMLButtonElement>('generate-run');
  const stop = $<HTMLButtonElement>('generate-stop');
  pick.addEventListener('change', () => (urlInput.hidden = pick.value !== 'url'));

  $('model-load').addEventListener('click', async () => {
    const url = pick.value === 'url' ? urlInput.value.trim() : new URL(pick.value, document.baseURI).href;
    run.disabled = true;
    await llm?.unload();
    llm = undefined;
    status.textContent = `Loading ${url}…`;
    const t0 = performance.now();
    try {
      llm = await loadModel({
        url,
        onProgress: (e) => {
          progress.value = e.totalBytes ? e.loadedBytes / e.totalBytes : 0;
          status.textContent = `${e.phase}: ${(e.loadedBytes / 2 ** 20).toFixed(1)} / ${(e.totalBytes / 2 ** 20).toFixed(1)} MiB`;
        },
      });
      const i = llm.info;
      status.textContent = `Loaded ${i.name} (${i.architecture}, ${i.layers} layers, ${Object.keys(i.weightTypes).join('/')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${i.adapter}, ${i.precision} activations, ${i.runtime === 'worker' ? 'in a Web Worker' : 'on the page thread'}.`;
      document.body.dataset.model = 'ready';
      run.disabled = false;
    } catch (e) {
      status.textContent = `Could not load: ${(e as Error).message}`;
    }
  });

  run.addEventListener('click', async () => {
    if (!llm) return;
    // The prompt is shown in bold before the continuation, which often starts mid-word.
    const prompt = $<HTMLTextAreaElement>('prompt').value;
    $('output-prompt').textContent = prompt;
    const out = $('output-text');
    const stats = $('generate-stats');
    out.textContent = '';
    run.disabled = true;
    stop.disabled = false;
    abort = new AbortController();
    document.body.dataset.generating = 'yes';
    try {
      const stream = await llm.completions.create({
        prompt,
        max_tokens: Number($<HTMLInputElement>('max-tokens').value),
        temperature: Number($<HTMLInputElement>('temperature').value),
        seed: Number($<HTMLInputElement>('seed').value),
        stream: true,
        signal: abort.signal,
      });
      for await (const chunk of stream) {
        out.textContent += chunk.choices[0]!.text;
        if (chunk.timings) {
          const t = chunk.timings;
          stats.textContent = `${chunk.usage!.completion_tokens} tokens · first token ${t.time_to_first_token_ms.toFixed(0)} ms · prefill ${t.prefill_tokens_per_second.toFixed(1)} tok/s · decode ${t.decode_tokens_per_second.toFixed(1)} tok/s · finish: ${chunk.choices[0]!.finish_reason}`;
        }
      }
    } catch (e) {
      stats.textContent = (e as { code?: string }).code === 'Aborted' ? 'Stopped.' : `Error: ${(e as Error).message}`;
    } finally {
      run.disabled = false;
      stop.disabled = true;
      document.body.dataset.generating = 'no';
    }
  });
  stop.addEventListener('click', () => abort?.abort());
}

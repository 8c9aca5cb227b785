// The demo's raw-completion panel: the model continues a prompt (shown in bold, since the continuation often
// starts mid-word) through llm.completions.create with streaming and a Stop button, showing time to first
// token and tokens per second. Suits base models such as the built-in fortune-cookie one.
import type { LanguageModel } from '../src/index';
import { $ } from './format';
import { sampling } from './settings';

export interface CompletionView {
  setModel(llm: LanguageModel | undefined): void;
  stop(): void;
}

export function setupCompletion(): CompletionView {
  let llm: LanguageModel | undefined;
  let abort: AbortController | undefined;
  const run = $<HTMLButtonElement>('generate-run');
  const stop = $<HTMLButtonElement>('generate-stop');
  const out = $('output-text');
  const stats = $('generate-stats');

  run.addEventListener('click', async () => {
    if (!llm || abort) return;
    const prompt = $<HTMLTextAreaElement>('prompt').value;
    $('output-prompt').textContent = prompt;
    out.textContent = '';
    stats.textContent = '';
    const ctl = (abort = new AbortController());
    run.disabled = true;
    stop.disabled = false;
    document.body.dataset.generating = 'yes';
    try {
      const stream = await llm.completions.create({ prompt, ...sampling(), stream: true, signal: ctl.signal });
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
      abort = undefined;
      run.disabled = !llm;
      stop.disabled = true;
      document.body.dataset.generating = 'no';
    }
  });
  stop.addEventListener('click', () => abort?.abort());

  return {
    setModel(next) {
      llm = next;
      run.disabled = !next || abort !== undefined;
    },
    stop: () => abort?.abort(),
  };
}

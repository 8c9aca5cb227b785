// The demo's chat view: a conversation with the loaded model through the OpenAI-shaped streaming API
// (llm.chat.completions.create({ messages, stream: true, signal })). The whole history is sent each turn;
// replies stream in token by token with time to first token and tokens per second; Stop keeps what was
// written so far; New chat forgets the history.
import type { ChatMessage, LanguageModel } from '../src/index';
import { $, el } from './format';
import { sampling } from './settings';

export interface ChatView {
  setModel(llm: LanguageModel | undefined): void;
  stop(): void;
}

export function setupChat(): ChatView {
  const log = $('chat-log');
  const note = $('chat-note');
  const form = $<HTMLFormElement>('chat-form');
  const input = $<HTMLTextAreaElement>('chat-input');
  const send = $<HTMLButtonElement>('chat-send');
  const stopButton = $<HTMLButtonElement>('chat-stop');
  const stats = $('chat-stats');

  let llm: LanguageModel | undefined;
  let abort: AbortController | undefined;
  let history: ChatMessage[] = [];
  /** The bubble of each history message (same order), to fade those left out of the context. */
  let bubbles: HTMLLIElement[] = [];
  const toBottom = () => (log.scrollTop = log.scrollHeight);

  const busy = () => abort !== undefined;
  const refreshButtons = () => {
    send.disabled = !llm || busy();
    stopButton.disabled = !busy();
  };

  function bubble(role: 'user' | 'assistant', text: string): { li: HTMLLIElement; body: HTMLDivElement; meta: HTMLDivElement } {
    const li = el('li', `msg ${role}`);
    const who = el('div', 'who', role === 'user' ? 'You' : llm?.info.name ?? 'Model');
    const body = el('div', 'body', text);
    const meta = el('div', 'meta');
    li.append(who, body, meta);
    log.append(li);
    toBottom();
    return { li, body, meta };
  }

  async function turn(text: string): Promise<void> {
    if (!llm || busy() || !text.trim()) return;
    const model = llm;
    history.push({ role: 'user', content: text });
    bubbles.push(bubble('user', text).li);
    const reply = bubble('assistant', '');
    reply.li.classList.add('streaming');
    const ctl = (abort = new AbortController());
    refreshButtons();
    document.body.dataset.generating = 'yes';
    stats.textContent = 'Thinking…';
    delete stats.dataset.done;

    let content = '';
    let pieces = 0;
    let firstAt: number | undefined;
    const t0 = performance.now();
    const live = () => {
      if (firstAt === undefined) return;
      const s = (performance.now() - firstAt) / 1000;
      const tps = s > 0 && pieces > 1 ? `${((pieces - 1) / s).toFixed(1)} tok/s` : '… tok/s';
      stats.textContent = `first token ${(firstAt - t0).toFixed(0)} ms · ${tps} · ${pieces} tokens`;
    };
    let outcome = '';
    const settings = sampling();
    const sent = fitToContext(model, history, settings.max_tokens);
    const dropped = history.length - sent.length;
    bubbles.forEach((b, i) => b.classList.toggle('forgotten', i < dropped));
    try {
      const stream = await model.chat.completions.create({
        messages: sent,
        stream: true,
        signal: ctl.signal,
        ...settings,
        // Without a chat template the turns are "role: content" lines: a new "user:" line ends the reply.
        ...(model.info.hasChatTemplate ? {} : { stop: ['\nuser:', '\nUser:'] }),
      });
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta.content;
        if (delta) {
          firstAt ??= performance.now();
          pieces++;
          content += delta;
          reply.body.textContent = content.trimStart();
          live();
          toBottom();
        }
        if (chunk.timings && chunk.usage) {
          const t = chunk.timings;
          const line = `first token ${t.time_to_first_token_ms.toFixed(0)} ms · ${t.decode_tokens_per_second.toFixed(1)} tok/s · ${chunk.usage.completion_tokens} tokens · prompt ${chunk.usage.prompt_tokens} tokens at ${t.prefill_tokens_per_second.toFixed(0)} tok/s · finish: ${chunk.choices[0]!.finish_reason}`;
          stats.textContent = line;
          stats.dataset.ttftMs = t.time_to_first_token_ms.toFixed(1);
          stats.dataset.tokensPerSecond = t.decode_tokens_per_second.toFixed(2);
          reply.meta.textContent = `${chunk.usage.completion_tokens} tokens · ${t.decode_tokens_per_second.toFixed(1)} tok/s` +
            (dropped > 0 ? ` · the ${dropped} oldest message${dropped > 1 ? 's were' : ' was'} left out to fit the ${model.info.contextLength}-token context` : '');
        }
      }
      outcome = 'done';
    } catch (e) {
      const stopped = (e as { code?: string }).code === 'Aborted' || ctl.signal.aborted;
      outcome = stopped ? 'stopped' : 'error';
      if (stopped) {
        live();
        stats.textContent = `Stopped. ${stats.textContent?.startsWith('first token') ? stats.textContent : ''}`.trim();
        reply.meta.textContent = 'stopped';
      } else {
        stats.textContent = `Error: ${(e as Error).message}`;
        reply.li.classList.add('error');
        reply.meta.textContent = `error: ${(e as Error).message}`;
      }
    } finally {
      reply.li.classList.remove('streaming');
      const said = content.trim();
      if (!said && outcome !== 'error') reply.body.textContent = '(no words: the model ended its turn at once)';
      // What the model said stays in the history, even when stopped part-way.
      if (outcome !== 'error') {
        history.push({ role: 'assistant', content: said });
        bubbles.push(reply.li);
      } else {
        history.pop(); // the user turn that failed is not part of the conversation the model saw
        bubbles.pop();
      }
      toBottom();
      abort = undefined;
      stats.dataset.done = outcome;
      document.body.dataset.generating = 'no';
      refreshButtons();
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    if (!llm || busy() || !text.trim()) return;
    input.value = '';
    void turn(text);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  stopButton.addEventListener('click', () => abort?.abort());
  $('chat-clear').addEventListener('click', () => {
    abort?.abort();
    history = [];
    bubbles = [];
    log.replaceChildren();
    stats.textContent = '';
    delete stats.dataset.done;
  });

  return {
    setModel(next) {
      llm = next;
      history = [];
      bubbles = [];
      log.replaceChildren();
      stats.textContent = '';
      if (next) {
        note.textContent = next.info.hasChatTemplate
          ? `Chatting with ${next.info.name}, using the chat template in its file.`
          : `${next.info.name} has no chat template, so turns are sent as plain "user: …" / "assistant: …" lines. ` +
            'A base model (like the built-in fortune-cookie one) just continues them in its own style.';
        input.focus();
      }
      refreshButtons();
    },
    stop: () => abort?.abort(),
  };
}

/**
 * The most recent messages that fit the model's context with room for the reply (whole messages, starting
 * with a user turn; the newest one always goes). Sizes are estimated with the model's tokenizer plus a few
 * tokens per message for the template's role markers.
 */
function fitToContext(llm: LanguageModel, history: ChatMessage[], maxTokens: number): ChatMessage[] {
  const budget = llm.info.contextLength - Math.min(maxTokens, Math.floor(llm.info.contextLength / 2));
  let used = 0;
  let start = history.length;
  while (start > 0) {
    const m = history[start - 1]!;
    const cost = llm.tokenizer.encode(`${m.role}: ${m.content}`, { addBos: false }).length + 6;
    if (start < history.length && used + cost > budget) break;
    used += cost;
    start--;
  }
  while (start < history.length - 1 && history[start]!.role !== 'user') start++;
  return history.slice(start).map((m) => ({ ...m }));
}

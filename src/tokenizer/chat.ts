/**
 * Chat templates: the Jinja template a GGUF file carries in `tokenizer.chat_template`, rendered with
 * @huggingface/jinja (the implementation transformers.js uses) and the variables Hugging Face and
 * llama.cpp pass: messages, add_generation_prompt, bos_token, eos_token, plus any extras (tools, …).
 *
 * A file without a template is an error by default. llama.cpp silently falls back to ChatML there, which
 * suits models trained on ChatML but feeds any other model (a base model, a Llama-2 chat model) markers it
 * has never seen, often not even as single tokens: the result looks like a working chat and is not. So the
 * caller opts in to a fallback: 'chatml' (llama.cpp's exact fallback) or 'plain' ("role: content" lines, the
 * least surprising text for a base model to continue).
 */
import { Template } from '@huggingface/jinja';
import { InvalidArgumentError, ModelFileError } from '../errors';
import { type Metadata, optString } from './metadata';
import type { Tokenizer } from './tokenizer';

export interface ChatMessage {
  role: string;
  content: string;
  /** Other fields some templates read (tool_calls, name, …) pass through unchanged. */
  [field: string]: unknown;
}

export interface ChatRenderOptions {
  /** End with the header of an assistant turn, so the model writes the reply. Default true. */
  addGenerationPrompt?: boolean;
  /** More template variables (tools, date_string, enable_thinking, …). */
  variables?: Record<string, unknown>;
}

/** llama.cpp's CHATML_TEMPLATE_SRC (common/chat.cpp), its fallback for files without a template. */
export const CHATML_TEMPLATE =
  "{%- for message in messages -%}\n" +
  "  {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}\n" +
  '{%- endfor -%}\n' +
  '{%- if add_generation_prompt -%}\n' +
  "  {{- '<|im_start|>assistant\\n' -}}\n" +
  '{%- endif -%}';

/** "role: content" lines, then "assistant:" when a reply is wanted. */
export const PLAIN_TEMPLATE =
  "{%- for message in messages -%}{{- message.role + ': ' + message.content + '\\n' -}}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- 'assistant:' -}}{%- endif -%}";

export type ChatFallback = 'chatml' | 'plain';

export interface ChatTemplateOptions {
  bosToken?: string;
  eosToken?: string;
  /**
   * Remove the BOS text from the start of the rendered prompt (and the EOS text from its end) because the
   * tokenizer adds that token itself, as llama.cpp's common_chat_templates_apply does. Default false.
   */
  stripBos?: boolean;
  stripEos?: boolean;
  /** Used when the file has no template; without it a missing template is an error (see above). */
  fallback?: ChatFallback;
}

function missingTemplate(): ModelFileError {
  return new ModelFileError(
    'UnsupportedTokenizer',
    'this model file has no chat template (tokenizer.chat_template), so it was probably not trained for chat; ' +
      "use plain completion, or ask for a fallback format explicitly (fallback: 'chatml' or 'plain')",
  );
}

export class ChatTemplate {
  readonly source: string;
  private readonly template: Template;

  /** `source` undefined or empty: the file has none (an error unless opts.fallback is set). */
  constructor(source: string | undefined, private readonly opts: ChatTemplateOptions = {}) {
    if (source === undefined || source === '') {
      if (!opts.fallback) throw missingTemplate();
      source = opts.fallback === 'chatml' ? CHATML_TEMPLATE : PLAIN_TEMPLATE;
    }
    this.source = source;
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new ModelFileError('InvalidModelFile', `the chat template does not parse: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * The template of a model file, with BOS/EOS texts from its tokenizer and llama.cpp's BOS/EOS stripping,
   * so that `tokenizer.encode(render(…), { parseSpecial: true })` starts with exactly one BOS.
   */
  static fromMetadata(metadata: Metadata, tokenizer: Tokenizer, opts: { fallback?: ChatFallback } = {}): ChatTemplate {
    const text = (id: number | undefined) => (id === undefined ? '' : tokenizer.decode([id], { stripLeadingSpace: false }));
    return new ChatTemplate(optString(metadata, 'tokenizer.chat_template'), {
      bosToken: text(tokenizer.bosId),
      eosToken: text(tokenizer.eosId),
      stripBos: tokenizer.addBos,
      stripEos: tokenizer.addEos,
      fallback: opts.fallback,
    });
  }

  render(messages: readonly ChatMessage[], opts: ChatRenderOptions = {}): string {
    const bos = this.opts.bosToken ?? '';
    const eos = this.opts.eosToken ?? '';
    let text: string;
    try {
      text = this.template.render({
        ...opts.variables,
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? true,
        bos_token: bos,
        eos_token: eos,
      });
    } catch (e) {
      // Templates reject conversations they cannot express (raise_exception, e.g. roles not alternating).
      throw new InvalidArgumentError(`the chat template rejected these messages: ${(e as Error).message}`);
    }
    if (this.opts.stripBos && bos !== '' && text.startsWith(bos)) text = text.slice(bos.length);
    if (this.opts.stripEos && eos !== '' && text.endsWith(eos)) text = text.slice(0, -eos.length);
    return text;
  }
}

/** One-shot form of `new ChatTemplate(template, opts).render(messages, opts)`. */
export function renderChatTemplate(
  template: string | undefined,
  messages: readonly ChatMessage[],
  opts: ChatTemplateOptions & ChatRenderOptions = {},
): string {
  return new ChatTemplate(template, opts).render(messages, opts);
}

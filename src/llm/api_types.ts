/**
 * The OpenAI-shaped request and response types of `llm.completions.create` and
 * `llm.chat.completions.create` — the shapes web developers already write against. Extra sampling knobs
 * (top_k, min_p, repetition_penalty, seed) follow llama.cpp's server names. Every field is checked when the
 * request is made (./request.ts): `null` counts as not given, unknown fields are refused, and OpenAI fields
 * inpage does not implement yet (n > 1, logprobs, tools, response_format, …) fail with UnsupportedFeature.
 */

export interface SamplingOptions {
  /** Default 0.8 (llama.cpp). 0 = greedy. */
  temperature?: number;
  /** Default 40. 0 disables. */
  top_k?: number;
  /** Default 0.95. 1 disables. */
  top_p?: number;
  /** Default 0.05. 0 disables. */
  min_p?: number;
  /** Default 1 (off). llama.cpp's repeat penalty over the last `penalty_last_n` tokens. */
  repetition_penalty?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  /** Default 64. */
  penalty_last_n?: number;
  /** Token id (as a string or number key) → bias added to its logit. */
  logit_bias?: Record<string | number, number>;
  /** Same seed, same output. Default: random. */
  seed?: number;
  /** Default 256. Generation also stops at end-of-sequence, at a stop string, or at the context's end. */
  max_tokens?: number;
  /** OpenAI's newer name for max_tokens (give one, or both equal). */
  max_completion_tokens?: number;
  /** Generation stops before any of these strings; they are not part of the returned text. */
  stop?: string | string[];
  /** Aborts generation promptly; the model stays usable. */
  signal?: AbortSignal;
}

export interface CompletionRequest extends SamplingOptions {
  /** Text, or token ids (used as given: no BOS is added to ids). */
  prompt: string | number[];
  stream?: boolean;
}

/** A part of a message's content, as OpenAI clients send it; only text parts are supported (text models). */
export interface ChatContentPart {
  type: 'text' | (string & {});
  text?: string;
  [field: string]: unknown;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  /** Text, text parts (joined by newlines), or null (an assistant turn that only carries tool_calls). */
  content: string | ChatContentPart[] | null;
  /** Other fields (tool_calls, tool_call_id, name, …) reach the chat template unchanged. */
  [field: string]: unknown;
}

export interface ChatCompletionRequest extends SamplingOptions {
  messages: ChatMessage[];
  stream?: boolean;
}

export type FinishReason = 'stop' | 'length';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Not in OpenAI's API: what the visitor's GPU did. */
export interface Timings {
  /** From the call to the first generated token, in ms. */
  time_to_first_token_ms: number;
  prefill_tokens_per_second: number;
  decode_tokens_per_second: number;
  total_ms: number;
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: 0; text: string; finish_reason: FinishReason; logprobs: null }[];
  usage: Usage;
  timings: Timings;
}

export interface CompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: 0; text: string; finish_reason: FinishReason | null; logprobs: null }[];
  /** Present on the last chunk only. */
  usage?: Usage;
  timings?: Timings;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason; logprobs: null }[];
  usage: Usage;
  timings: Timings;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: Usage;
  timings?: Timings;
}

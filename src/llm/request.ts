/**
 * The one request validator: every field of a completions / chat.completions request is checked here,
 * synchronously, before anything is queued — so a bad request rejects at `create()` (streaming or not),
 * with a typed error that names the field, and never reaches the GPU. The page runs it before a request
 * crosses to the worker, and the engine runs it again (the worker may be driven directly).
 *
 * Rules, decided once for every field:
 *  - `null` means "not given" (OpenAI's API documents its optional fields as nullable), so it takes the
 *    model's default, the same for `temperature: null` as for `max_tokens: null`;
 *  - numbers must be finite and within the range below (chosen so that every value is still finite in the
 *    f32 arithmetic of the GPU sampler: a bias of 1e39 is finite in JS and infinite in f32);
 *  - fields of OpenAI's API that inpage does not implement yet (`n` > 1, `logprobs`, `tools`,
 *    `response_format` other than text, …) fail with `UnsupportedFeature` rather than being dropped;
 *  - fields nobody defines (a typo such as `maxTokens`) fail with `InvalidArgument`; `model`, `user`,
 *    `metadata` and `store`, which OpenAI client code sets routinely, are accepted and ignored.
 */
import { InvalidArgumentError, UnsupportedFeatureError } from '../errors';
import type { ChatCompletionRequest, CompletionRequest, SamplingOptions } from './api_types';

/** A message as the chat template receives it: content flattened to text, other fields as given. */
export interface TemplateMessage {
  role: string;
  content: string;
  [field: string]: unknown;
}

export interface CheckedOptions extends Omit<SamplingOptions, 'stop'> {
  stop: string[];
  stream: boolean;
}

export type CheckedRequest =
  | { api: 'completions'; prompt: string | number[]; options: CheckedOptions }
  | { api: 'chat'; messages: TemplateMessage[]; options: CheckedOptions };

/** Throws if `v` is not a valid value of field `name`; `vocabSize` for fields that hold token ids. */
type Check = (name: string, v: unknown, vocabSize: number) => void;

const number = (lo: number, hi: number, { integer = false, openLo = false } = {}): Check => (name, v) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v > hi || (openLo ? v <= lo : v < lo)) {
    const kind = integer ? 'an integer' : 'a number';
    throw new InvalidArgumentError(`${name} must be ${kind} in ${openLo ? '(' : '['}${lo}, ${hi}], got ${describe(v)}`);
  }
};
const boolean: Check = (name, v) => {
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`${name} must be true or false, got ${describe(v)}`);
};

/** Sampling fields and their ranges (llama.cpp's meaning; OpenAI's ranges where OpenAI defines one). */
const SAMPLING: Record<string, Check> = {
  temperature: number(0, 100),
  top_k: number(0, 2 ** 31 - 1, { integer: true }),
  top_p: number(0, 1, { openLo: true }),
  min_p: number(0, 1),
  repetition_penalty: number(0, 100, { openLo: true }),
  presence_penalty: number(-100, 100),
  frequency_penalty: number(-100, 100),
  penalty_last_n: number(-1, 2 ** 31 - 1, { integer: true }),
  seed: number(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, { integer: true }),
  max_tokens: number(0, 2 ** 31 - 1, { integer: true }),
  max_completion_tokens: number(0, 2 ** 31 - 1, { integer: true }),
  stream: boolean,
  logit_bias: (name, v, vocabSize) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError(`${name} must be an object of token id → bias, got ${describe(v)}`);
    for (const [key, bias] of Object.entries(v)) {
      const id = Number(key);
      if (!/^\d+$/.test(key) || id >= vocabSize) throw new InvalidArgumentError(`${name}: ${key} is not a token id (0..${vocabSize - 1})`);
      number(-100, 100)(`${name}[${key}]`, bias, vocabSize);
    }
  },
  stop: (name, v) => {
    const list = Array.isArray(v) ? v : [v];
    for (const [i, s] of list.entries()) {
      if (typeof s !== 'string' || s === '') throw new InvalidArgumentError(`${Array.isArray(v) ? `${name}[${i}]` : name} must be a non-empty string, got ${describe(s)}`);
    }
  },
  signal: (name, v) => {
    const s = v as AbortSignal;
    if (typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
      throw new InvalidArgumentError(`${name} must be an AbortSignal, got ${describe(v)}`);
    }
  },
  stream_options: (name, v) => {
    if (typeof v !== 'object' || v === null) throw new InvalidArgumentError(`${name} must be an object, got ${describe(v)}`);
    for (const [k, x] of Object.entries(v)) {
      if (k !== 'include_usage') throw new InvalidArgumentError(`${name}.${k} is not a field inpage knows`);
      boolean(`${name}.include_usage`, x, 0); // usage is on the last chunk either way
    }
  },
};

/** Accepted and ignored: routine in OpenAI client code, meaningless for an in-page model. */
const IGNORED = new Set(['model', 'user', 'metadata', 'store']);

/** OpenAI fields not implemented yet: allowed only with the value that asks for nothing. */
const NOT_YET: Record<string, (v: unknown) => boolean> = {
  n: (v) => v === 1,
  best_of: (v) => v === 1,
  logprobs: (v) => v === false || v === 0,
  top_logprobs: (v) => v === 0,
  echo: (v) => v === false,
  suffix: (v) => v === '',
  tools: (v) => Array.isArray(v) && v.length === 0,
  tool_choice: (v) => v === 'none',
  parallel_tool_calls: (v) => typeof v === 'boolean',
  functions: (v) => Array.isArray(v) && v.length === 0,
  function_call: (v) => v === 'none',
  response_format: (v) => typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'text' && Object.keys(v).length === 1,
};

export function checkCompletionRequest(req: unknown, vocabSize: number): CheckedRequest & { api: 'completions' } {
  const r = requestObject(req, 'completions.create');
  const prompt = r.prompt;
  if (typeof prompt !== 'string') {
    if (!Array.isArray(prompt)) throw new InvalidArgumentError(`prompt must be a string or an array of token ids, got ${describe(prompt)}`);
    if (prompt.length === 0) throw new InvalidArgumentError('prompt is an empty array: give at least one token id (e.g. BOS)');
    if (prompt.some((x) => typeof x === 'string' || Array.isArray(x))) {
      throw new UnsupportedFeatureError('batched prompts', 'prompt as an array of strings or of token arrays (several prompts at once) is not supported: make one request per prompt');
    }
    for (const [i, id] of prompt.entries()) number(0, vocabSize - 1, { integer: true })(`prompt[${i}] (a token id)`, id, vocabSize);
  }
  return { api: 'completions', prompt: typeof prompt === 'string' ? prompt : [...(prompt as number[])], options: checkOptions(r, 'prompt', vocabSize) };
}

export function checkChatRequest(req: unknown, vocabSize: number): CheckedRequest & { api: 'chat' } {
  const r = requestObject(req, 'chat.completions.create');
  const messages = r.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new InvalidArgumentError(`messages must be a non-empty array, got ${describe(messages)}`);
  return { api: 'chat', messages: messages.map(templateMessage), options: checkOptions(r, 'messages', vocabSize) };
}

/** Either request, by the API it is for. */
export function checkRequest(api: 'completions' | 'chat', req: CompletionRequest | ChatCompletionRequest, vocabSize: number): CheckedRequest {
  return api === 'chat' ? checkChatRequest(req, vocabSize) : checkCompletionRequest(req, vocabSize);
}

function requestObject(req: unknown, what: string): Record<string, unknown> {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new InvalidArgumentError(`${what} needs a request object, got ${describe(req)}`);
  return req as Record<string, unknown>;
}

function checkOptions(r: Record<string, unknown>, input: string, vocabSize: number): CheckedOptions {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(r)) {
    if (name === input || v === undefined || v === null || IGNORED.has(name)) continue;
    const check = SAMPLING[name];
    if (check) {
      check(name, v, vocabSize);
      out[name] = v;
    } else if (name in NOT_YET) {
      if (!NOT_YET[name]!(v)) throw new UnsupportedFeatureError(name, `${name} = ${describe(v)} is not supported yet; leave it out`);
    } else {
      throw new InvalidArgumentError(`${name} is not a request field inpage knows (the fields are ${[input, ...Object.keys(SAMPLING)].join(', ')})`);
    }
  }
  const { max_completion_tokens: maxCompletion, stop, stream, stream_options: _usageAlways, ...sampling } = out as SamplingOptions & { max_completion_tokens?: number; stream?: boolean; stream_options?: unknown };
  if (maxCompletion !== undefined) {
    if (sampling.max_tokens !== undefined && sampling.max_tokens !== maxCompletion) {
      throw new InvalidArgumentError(`max_tokens (${sampling.max_tokens}) and max_completion_tokens (${maxCompletion}) disagree; give one`);
    }
    sampling.max_tokens = maxCompletion;
  }
  return { ...sampling, stop: stop === undefined ? [] : Array.isArray(stop) ? [...stop] : [stop], stream: stream ?? false };
}

/** OpenAI's message shapes → what a chat template reads: text parts joined by newlines, `content: null` as ''. */
function templateMessage(m: unknown, i: number): TemplateMessage {
  if (typeof m !== 'object' || m === null) throw new InvalidArgumentError(`messages[${i}] must be an object, got ${describe(m)}`);
  const { role, content, ...rest } = m as Record<string, unknown>;
  if (typeof role !== 'string' || role === '') throw new InvalidArgumentError(`messages[${i}].role must be a non-empty string, got ${describe(role)}`);
  let text: string;
  if (typeof content === 'string') text = content;
  else if (content === null || content === undefined) text = ''; // an assistant turn that only carries tool_calls
  else if (Array.isArray(content)) {
    text = content.map((part, j) => {
      const p = part as { type?: unknown; text?: unknown };
      if (typeof p !== 'object' || p === null) throw new InvalidArgumentError(`messages[${i}].content[${j}] must be a content part object`);
      if (p.type !== 'text') throw new UnsupportedFeatureError(`content part ${String(p.type)}`, `messages[${i}].content[${j}] is a '${String(p.type)}' part: inpage runs text-only models, so only 'text' parts are supported`);
      if (typeof p.text !== 'string') throw new InvalidArgumentError(`messages[${i}].content[${j}].text must be a string`);
      return p.text;
    }).join('\n'); // as llama.cpp's server joins typed text parts for templates that take a string
  } else throw new InvalidArgumentError(`messages[${i}].content must be a string, an array of text parts or null, got ${describe(content)}`);
  return { role, content: text, ...rest };
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

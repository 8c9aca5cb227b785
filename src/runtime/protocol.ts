/**
 * What crosses the worker boundary besides comlink's own calls: the per-request port messages (streamed
 * chunks, the final result, errors, abort/cancel) and errors in a form that survives structured clone.
 * Structured clone keeps an Error's message but not its class or its `code`, so InpageErrors are sent as
 * plain data and rebuilt on the other side as the same class (instanceof, `code`, `name`, `message` and
 * the subclass's own fields such as ContextOverflowError.promptTokens).
 */
import * as errors from '../errors';
import type { ChatCompletionRequest, CompletionRequest } from '../llm/api_types';

/** The two generation APIs a request can target. */
export type GenerationApi = 'completions' | 'chat';

/** A request as sent to the worker: the caller's request minus its AbortSignal (which cannot be cloned). */
export interface GenerationSpec {
  api: GenerationApi;
  request: Omit<CompletionRequest, 'signal'> | Omit<ChatCompletionRequest, 'signal'>;
  /** Set when the caller's signal was already aborted: the reason's message, or null for a non-Error reason. */
  aborted?: string | null;
}

/** Worker → page, on a request's own MessagePort. */
export type WorkerToPage =
  | { t: 'chunk'; chunk: unknown }
  | { t: 'end' }
  | { t: 'result'; value: unknown }
  | { t: 'error'; error: SerializedError };

/**
 * Page → worker, on a request's own MessagePort. `abort`: the caller's AbortSignal fired (the request
 * fails with AbortError, as in-thread). `cancel`: the caller stopped iterating a stream (break out of
 * for-await): generation stops and nothing more is sent.
 */
export type PageToWorker = { t: 'abort'; reason: string | null } | { t: 'cancel' };

/** Posted by the worker script once it listens, so a page can tell "loaded" from "failed to load". */
export const READY_MESSAGE = 'inpage-worker-ready';

/** The abort reason a signal carries, as the engine words it: an Error's message, else nothing. */
export function abortReasonOf(signal: AbortSignal): string | null {
  const r: unknown = signal.reason;
  // A plain abort() (a DOMException named AbortError) carries no reason worth a message, in-thread either.
  return r instanceof Error && r.name !== 'AbortError' ? r.message : null;
}

/** Rebuilds a reason so that the engine's AbortError message is the same as it would be in-thread. */
export function abortReasonFrom(reason: string | null): unknown {
  return reason === null ? 'aborted' : new Error(reason);
}

export interface SerializedError {
  /** Marks the object, so a rejection value can be told apart from anything else. */
  inpageSerializedError: true;
  /** The export name in src/errors.ts of the nearest error class (minifiers rename classes, not exports). */
  kind?: string;
  name: string;
  message: string;
  code?: string;
  stack?: string;
  /** The error's other own fields (ContextOverflowError.promptTokens, DeviceLostError.reason, …). */
  fields: Record<string, unknown>;
  cause?: SerializedError;
}

type ErrorClass = new (...args: never[]) => Error;

/** Every error class src/errors.ts exports, by export name. */
const ERROR_CLASSES: Record<string, ErrorClass> = Object.fromEntries(
  Object.entries(errors).filter(([, v]) => typeof v === 'function' && (v === errors.InpageError || v.prototype instanceof errors.InpageError)),
) as Record<string, ErrorClass>;

function kindOf(e: Error): string | undefined {
  for (let proto = Object.getPrototypeOf(e); proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [kind, cls] of Object.entries(ERROR_CLASSES)) if (cls.prototype === proto) return kind;
  }
  return undefined;
}

const isCloneablePrimitive = (v: unknown) => v === null || ['string', 'number', 'boolean', 'bigint', 'undefined'].includes(typeof v);

export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) {
    return { inpageSerializedError: true, name: 'Error', message: typeof e === 'string' ? e : String(e), fields: {} };
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k !== 'name' && k !== 'message' && k !== 'stack' && k !== 'code' && k !== 'cause' && isCloneablePrimitive(v)) fields[k] = v;
  }
  const code = (e as { code?: unknown }).code;
  return {
    inpageSerializedError: true,
    kind: kindOf(e),
    name: e.name,
    message: e.message,
    code: typeof code === 'string' ? code : undefined,
    stack: e.stack,
    fields,
    cause: e.cause !== undefined && depth < 3 ? serializeError(e.cause, depth + 1) : undefined,
  };
}

export function isSerializedError(v: unknown): v is SerializedError {
  return typeof v === 'object' && v !== null && (v as SerializedError).inpageSerializedError === true;
}

/**
 * The error as the page should see it: an instance of the same inpage class (built without running its
 * constructor, whose parameters differ by class), or of the same built-in Error class, with the same
 * name, message, code and fields. The stack is the worker's, where the error was thrown.
 */
export function deserializeError(s: SerializedError): Error {
  const builtin = (globalThis as Record<string, unknown>)[s.name];
  const cls: ErrorClass =
    (s.kind !== undefined ? ERROR_CLASSES[s.kind] : undefined) ??
    (typeof builtin === 'function' && (builtin === Error || builtin.prototype instanceof Error) ? (builtin as ErrorClass) : Error);
  const e = Reflect.construct(Error, [s.message], cls) as Error & Record<string, unknown>;
  const own = (k: string, value: unknown) => Object.defineProperty(e, k, { value, writable: true, configurable: true, enumerable: k !== 'stack' && k !== 'cause' });
  own('code', s.code);
  if (s.code === undefined) delete e.code;
  // InpageErrors carry their name as an own field (errors.ts sets it); built-ins inherit theirs.
  if (s.kind !== undefined || cls.prototype.name !== s.name) own('name', s.name);
  for (const [k, v] of Object.entries(s.fields)) own(k, v);
  if (s.cause) own('cause', deserializeError(s.cause));
  if (s.stack) own('stack', s.stack);
  return e;
}

/** A caught value: rebuilt if it came from the worker, else as it is. */
export function rehydrate(e: unknown): unknown {
  return isSerializedError(e) ? deserializeError(e) : e;
}

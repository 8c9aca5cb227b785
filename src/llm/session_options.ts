/**
 * The load options that shape a generation session, checked the same way by every loader (our kernels,
 * onnxruntime on a GGUF file, an ONNX folder) before any GPU or network work.
 */
import { InvalidArgumentError } from '../errors';

export interface SessionOptions {
  /** Context window in tokens (default: the model's, capped at 4096 to bound KV-cache memory). */
  contextLength?: number;
  /** Tokens per prefill step (default 128). */
  prefillChunk?: number;
  /** How long an unread stream may keep other requests waiting before it loses its turn (default 10 000 ms). */
  streamIdleTimeoutMs?: number;
}

export const DEFAULT_CONTEXT_CAP = 4096;
export const DEFAULT_PREFILL_CHUNK = 128;

/**
 * The session's shape for a model trained on `trainedContext` positions. A context beyond that is refused:
 * positions the model never saw give text that looks fine for a while and then is not.
 */
export function sessionShape(o: SessionOptions, trainedContext: number): { contextLength: number; prefillChunk: number; streamIdleTimeoutMs?: number } {
  const positive = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(v)}`);
    return v;
  };
  const contextLength = o.contextLength === undefined ? Math.min(trainedContext, DEFAULT_CONTEXT_CAP) : positive('contextLength', o.contextLength);
  if (contextLength > trainedContext) {
    throw new InvalidArgumentError(`contextLength ${contextLength} is more than the model was trained for (${trainedContext} tokens); give at most ${trainedContext}`);
  }
  const prefillChunk = Math.min(o.prefillChunk === undefined ? DEFAULT_PREFILL_CHUNK : positive('prefillChunk', o.prefillChunk), contextLength);
  const idle = o.streamIdleTimeoutMs;
  if (idle !== undefined && (typeof idle !== 'number' || !(idle >= 0) || !Number.isFinite(idle))) {
    throw new InvalidArgumentError(`streamIdleTimeoutMs must be a non-negative number of milliseconds, got ${String(idle)}`);
  }
  return { contextLength, prefillChunk, streamIdleTimeoutMs: idle };
}

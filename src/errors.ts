/**
 * Every error inpage throws on purpose is an InpageError with a stable `code`, so callers can branch on
 * `err.code` without parsing messages. Messages say what was found and what to do about it.
 * This module imports nothing: every layer may use it.
 */
export type InpageErrorCode =
  | 'NoWebGPU'
  | 'NoAdapter'
  | 'DeviceRequestFailed'
  | 'DeviceLost'
  | 'UnsupportedFeature'
  | 'BindingTooLarge'
  | 'GpuOutOfMemory'
  | 'GpuValidation'
  | 'ShaderCompile'
  | 'InvalidArgument'
  | 'InvalidModelFile'
  | 'TruncatedFile'
  | 'FileChanged'
  | 'UnsupportedArchitecture'
  | 'UnsupportedQuantType'
  | 'UnsupportedTokenizer'
  | 'ContextOverflow'
  | 'Aborted'
  | 'NetworkError'
  | 'QuotaExceeded'
  | 'CorruptCache'
  | 'WorkerCrashed'
  | 'BackendUnavailable'
  | 'NonFiniteOutput';

export class InpageError extends Error {
  readonly code: InpageErrorCode;
  constructor(code: InpageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** navigator.gpu is missing, or no adapter / device could be obtained. */
export class WebGPUUnavailableError extends InpageError {}
/** The GPU device was lost (driver reset, tab backgrounded too long, destroy()). Re-acquire to continue. */
export class DeviceLostError extends InpageError {
  constructor(message: string, readonly reason: string) {
    super('DeviceLost', message);
  }
}
/** A shader variant needs an adapter feature (e.g. shader-f16) that this device does not have. */
export class UnsupportedFeatureError extends InpageError {
  constructor(readonly feature: string, message: string) {
    super('UnsupportedFeature', message);
  }
}
/** A single buffer would exceed maxStorageBufferBindingSize / maxBufferSize and cannot be split. */
export class BindingTooLargeError extends InpageError {
  constructor(readonly requestedBytes: number, readonly limitBytes: number, what: string) {
    super(
      'BindingTooLarge',
      `${what}: ${requestedBytes} bytes exceeds the device's storage binding limit of ${limitBytes} bytes; ` +
        `allocate it as rows (allocator.createRows) so it can be split across bindings`,
    );
  }
}
/** The GPU ran out of memory while creating a buffer or running work. */
export class GpuOutOfMemoryError extends InpageError {
  constructor(message: string) {
    super('GpuOutOfMemory', message);
  }
}
/** WebGPU reported a validation error: a bug in inpage or a misuse of a low-level API. */
export class GpuValidationError extends InpageError {
  constructor(message: string) {
    super('GpuValidation', message);
  }
}
/** A WGSL kernel failed to compile or its pipeline could not be created. */
export class ShaderCompileError extends InpageError {
  constructor(readonly kernel: string, message: string) {
    super('ShaderCompile', `kernel ${kernel}: ${message}`);
  }
}
/** An argument has the wrong shape, size or value. */
export class InvalidArgumentError extends InpageError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}

/**
 * A model file is malformed, truncated, or uses something inpage does not run. `code` says which:
 * InvalidModelFile, TruncatedFile, UnsupportedArchitecture, UnsupportedQuantType, UnsupportedTokenizer,
 * or FileChanged (the file at a URL was replaced while it was being read: load it again). Thrown before any
 * GPU work where the file's own contents are at fault, so nothing is half-loaded.
 */
export class ModelFileError extends InpageError {}

/** The prompt (plus max_tokens where requested) does not fit the model's context window. */
export class ContextOverflowError extends InpageError {
  constructor(readonly promptTokens: number, readonly contextLength: number, message?: string) {
    super('ContextOverflow', message ?? `the prompt is ${promptTokens} tokens but the context holds ${contextLength}; shorten it or load the model with a larger context`);
  }
}

/** Generation was aborted through an AbortSignal. The model stays usable. */
export class AbortError extends InpageError {
  constructor(message = 'generation aborted') {
    super('Aborted', message);
  }
}

/**
 * The typed error for an aborted signal, whatever the caller aborted it with: its reason when that is an
 * AbortError already, else an AbortError saying `what` was aborted and why (a bare DOMException or a
 * caller's own Error would leave callers without a `code`).
 */
export function abortErrorOf(signal: AbortSignal, what = 'the load'): AbortError {
  const r: unknown = signal.reason;
  if (r instanceof AbortError) return r;
  return new AbortError(`${what} was aborted${r instanceof Error && r.name !== 'AbortError' ? `: ${r.message}` : ''}`);
}

/**
 * The Web Worker running the engine failed after it had started (an uncaught error in it, or it could not
 * run at all any more): requests in flight reject with this, and so does every later call on that model,
 * because the engine's state in the worker is unknown (the GPU memory went with it). Load the model again
 * to continue (a cached model loads with no download).
 */
export class WorkerCrashedError extends InpageError {
  constructor(readonly detail: string, options?: { cause?: unknown }) {
    super('WorkerCrashed', `the inpage worker stopped working: ${detail}. This model cannot be used any more; load it again with loadModel`, options);
  }
}

/**
 * The backend that loadModel was asked for (`backend: 'webgpu' | 'ort-webgpu' | 'wasm'`) cannot run here or
 * cannot run this model: no WebGPU adapter, no WebAssembly, a model format or weight type that backend does
 * not take. The message says why and what to ask for instead; inpage never silently falls back to a slower
 * backend that was not asked for.
 */
export class BackendUnavailableError extends InpageError {
  constructor(readonly backend: string, readonly reason: string, options?: { cause?: unknown }) {
    super('BackendUnavailable', `backend '${backend}' cannot be used: ${reason}`, options);
  }
}

/**
 * A model produced NaN or infinite values (a diffusion step's latents, a decoded image): the result would be a
 * black or garbage image, so it is reported instead of returned. `component` is the model part that produced
 * them (e.g. 'unet', 'vae_decoder', 'text_encoder'); `step` the denoising step (0-based), or -1 outside the loop.
 * Usual causes: an fp16 export overflowing (try the fp32 export or another backend), or a broken model file.
 */
export class NonFiniteOutputError extends InpageError {
  constructor(readonly component: string, readonly step: number, readonly count: number, detail = '') {
    super(
      'NonFiniteOutput',
      `${component} produced ${count} non-finite (NaN/Inf) values${step >= 0 ? ` at step ${step}` : ''}${detail ? ` ${detail}` : ''}; ` +
        'the image would be garbage, so generation stopped. With an fp16 model try the fp32 export or backend: \'wasm\'',
    );
  }
}

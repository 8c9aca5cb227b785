/**
 * The model object a page gets from `loadModel`, whether the engine runs in a Web Worker (the default in
 * browsers) or in the calling thread: the same methods, the same request and response shapes, the same
 * errors. `info.runtime` says which.
 */
import type { LanguageModel as EngineLanguageModel, ModelInfo as EngineModelInfo, ModelTokenizer } from '../llm/language_model';

export interface ModelInfo extends EngineModelInfo {
  /** Where the engine runs: a dedicated Web Worker, or the thread that called loadModel. */
  runtime: 'worker' | 'in-thread';
  /** Why (for diagnostics), e.g. "a gpu was passed in" or "worker: false". */
  runtimeReason: string;
}

export interface LanguageModel {
  readonly info: ModelInfo;
  /** Synchronous in both runtimes: a worker-backed model builds its own copy from the file's metadata. */
  readonly tokenizer: ModelTokenizer;
  readonly completions: EngineLanguageModel['completions'];
  readonly chat: EngineLanguageModel['chat'];
  /** Raw logits at every position of `tokens` (see the engine's LanguageModel.logits). */
  logits(tokens: readonly number[]): Promise<Float32Array[]>;
  /** Frees the GPU memory (and ends the worker). The model cannot be used afterwards. */
  unload(): Promise<void>;
}

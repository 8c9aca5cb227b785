/**
 * Runs a decoder-only LLM exported to ONNX in the Hugging Face optimum / transformers.js convention, on an
 * onnxruntime-web InferenceSession, and keeps its past key/values between calls:
 *
 *   inputs   input_ids int64 [batch, sequence_length]
 *            attention_mask int64 [batch, total_sequence_length]
 *            position_ids int64 [batch, sequence_length]            (when the model has it)
 *            past_key_values.{i}.key / .value [batch, kv_heads, past_sequence_length, head_dim]
 *            use_cache_branch bool [1]                              (merged decoders only)
 *   outputs  logits float32 [batch, sequence_length, vocab]
 *            present.{i}.key / .value [batch, kv_heads, total_sequence_length, head_dim]
 *
 * Both our GGUF→ONNX export (./gguf_to_onnx.ts) and optimum folders (./onnx_model.ts) run through this.
 * Batch is always 1. The ort module is a parameter so that only callers who pick this backend load
 * onnxruntime-web (a dynamic import there); this file imports its types alone.
 */
import type * as OrtNamespace from 'onnxruntime-web';
import { ContextOverflowError, InvalidArgumentError } from '../../errors';

export type Ort = typeof OrtNamespace;
type OrtTensor = OrtNamespace.Tensor;
type OrtSession = OrtNamespace.InferenceSession;

export interface OrtDecoderOptions {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Element type of past/present key/values (optimum fp16 exports use float16). Default float32. */
  kvType?: 'float32' | 'float16';
  /** Default 'wasm'. */
  executionProvider?: 'wasm' | 'webgpu';
  /** Tokens the cache may hold (forward refuses more). Default: unlimited. */
  contextLength?: number;
  /** Extra InferenceSession options (graphOptimizationLevel, preferredOutputLocation, …), merged over ours. */
  sessionOptions?: OrtNamespace.InferenceSession.SessionOptions;
}

export interface ForwardResult {
  /** Logits of the last position, [vocab]. */
  last: Float32Array;
  /** Logits of every position, one [vocab] row each (only when asked for). */
  all?: Float32Array[];
}

export class OrtDecoder {
  /** The past key/values: [key, value] per layer, each [1, kvHeads, length, headDim]. */
  private past: [OrtTensor, OrtTensor][];
  private cached = 0;
  /** A truncation of a GPU-resident cache, done at the next forward() (see truncateTo). */
  private pendingTruncate: number | undefined;
  private readonly hasPositionIds: boolean;
  private readonly hasCacheBranch: boolean;

  private constructor(
    private readonly ort: Ort,
    readonly session: OrtSession,
    readonly options: Readonly<OrtDecoderOptions>,
  ) {
    this.hasPositionIds = session.inputNames.includes('position_ids');
    this.hasCacheBranch = session.inputNames.includes('use_cache_branch');
    for (const name of ['input_ids', 'attention_mask', 'past_key_values.0.key']) {
      if (!session.inputNames.includes(name)) throw new InvalidArgumentError(`the ONNX decoder has no input ${name} (inputs: ${session.inputNames.join(', ')})`);
    }
    if (!session.outputNames.includes('logits') || !session.outputNames.includes('present.0.key')) {
      throw new InvalidArgumentError(`the ONNX decoder lacks logits / present.* outputs (outputs: ${session.outputNames.join(', ')})`);
    }
    this.past = this.emptyPast();
  }

  /**
   * Creates the session. `model` is the ModelProto bytes (or a URL onnxruntime-web fetches); external data
   * files are given by the path the model's initializers name (e.g. 'model.onnx_data').
   */
  static async create(
    ort: Ort,
    model: Uint8Array | string,
    externalData: readonly { path: string; data: Uint8Array | string }[] | undefined,
    options: OrtDecoderOptions,
  ): Promise<OrtDecoder> {
    const ep = options.executionProvider ?? 'wasm';
    const sessionOptions: OrtNamespace.InferenceSession.SessionOptions = {
      executionProviders: [ep],
      graphOptimizationLevel: 'all',
      ...(externalData && externalData.length > 0 ? { externalData: externalData.map((e) => ({ path: e.path, data: e.data })) } : {}),
      ...options.sessionOptions,
    };
    const session = typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions)
      : await ort.InferenceSession.create(model, sessionOptions);
    return new OrtDecoder(ort, session, options);
  }

  /** Tokens whose keys and values are cached. */
  get length(): number {
    return this.cached;
  }

  /**
   * Runs `tokens` after the cached ones, appends their keys and values, and returns the logits of the last
   * position (and of every position with `allLogits`).
   */
  async forward(tokens: readonly number[], { allLogits = false }: { allLogits?: boolean } = {}): Promise<ForwardResult> {
    const { ort, options: o } = this;
    const T = tokens.length;
    if (T < 1) throw new InvalidArgumentError('forward: at least one token');
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= o.vocabSize) throw new InvalidArgumentError(`token id ${id} is outside the vocabulary (0..${o.vocabSize - 1})`);
    }
    const total = this.cached + T;
    // onnxruntime-web's WASM run settles through microtasks only: without a task boundary per step a decode
    // loop never lets the thread's event loop run (a worker would not see abort or other messages until
    // the whole generation ended; a page would freeze).
    await nextTask();
    await this.applyPendingTruncate();
    if (o.contextLength !== undefined && total > o.contextLength) throw new ContextOverflowError(total, o.contextLength);

    const feeds: Record<string, OrtTensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, (t) => BigInt(t)), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
    };
    if (this.hasPositionIds) {
      feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(this.cached + i)), [1, T]);
    }
    if (this.hasCacheBranch) feeds.use_cache_branch = new ort.Tensor('bool', new Uint8Array([this.cached > 0 ? 1 : 0]), [1]);
    for (let i = 0; i < o.nLayers; i++) {
      feeds[`past_key_values.${i}.key`] = this.past[i]![0];
      feeds[`past_key_values.${i}.value`] = this.past[i]![1];
    }
    const out = await this.session.run(feeds);

    const logits = out.logits!;
    const data = await logitsData(logits);
    const vocab = o.vocabSize;
    const rows = logits.dims[1] ?? T; // an export may keep only the last position
    const last = data.slice((rows - 1) * vocab, rows * vocab);
    const all = allLogits ? Array.from({ length: rows }, (_, t) => data.slice(t * vocab, (t + 1) * vocab)) : undefined;
    if (allLogits && rows !== T) throw new InvalidArgumentError(`the ONNX decoder returned logits for ${rows} of ${T} positions`);

    const previous = this.past;
    this.past = Array.from({ length: o.nLayers }, (_, i) => [out[`present.${i}.key`]!, out[`present.${i}.value`]!]);
    for (const [k, v] of previous) disposeTensor(k), disposeTensor(v);
    logits.dispose?.();
    this.cached = total;
    return all ? { last, all } : { last };
  }

  /**
   * Keeps the first `n` cached positions (prefix reuse): the present tensors are sliced on the CPU. n = 0
   * drops everything. A GPU-resident cache (WebGPU EP, present.* as 'gpu-buffer') is sliced at the start of
   * the next forward(), which can wait for the download; until then `length` already says n.
   */
  truncateTo(n: number): void {
    if (n >= this.cached) return;
    if (n <= 0) return this.reset();
    if (this.past.some((pair) => pair.some((t) => t.location !== 'cpu'))) {
      this.pendingTruncate = n;
      this.cached = n;
      return;
    }
    this.past = this.past.map((pair) => pair.map((t) => this.sliced(t, t.data as Float32Array | Uint16Array, this.cached, n)) as [OrtTensor, OrtTensor]);
    this.cached = n;
  }

  /** Applies a truncation of a GPU-resident cache: downloads each tensor, keeps n positions (ORT uploads them again). */
  private async applyPendingTruncate(): Promise<void> {
    const n = this.pendingTruncate;
    if (n === undefined) return;
    this.pendingTruncate = undefined;
    const len = this.past[0]![0].dims[2]!;
    const out: [OrtTensor, OrtTensor][] = [];
    for (const pair of this.past) {
      const kept: OrtTensor[] = [];
      for (const t of pair) kept.push(this.sliced(t, (await t.getData()) as Float32Array | Uint16Array, len, n));
      out.push(kept as [OrtTensor, OrtTensor]);
    }
    this.past = out;
  }

  /** The first n positions of a [1, kvHeads, len, headDim] tensor whose elements are `src`, as a CPU tensor; disposes `t`. */
  private sliced(t: OrtTensor, src: Float32Array | Uint16Array, len: number, n: number): OrtTensor {
    const { ort, options: o } = this;
    const dst = new (src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(o.nKvHeads * n * o.headDim);
    for (let h = 0; h < o.nKvHeads; h++) {
      dst.set(src.subarray(h * len * o.headDim, (h * len + n) * o.headDim), h * n * o.headDim);
    }
    const out = new ort.Tensor(t.type as 'float32', dst as Float32Array, [1, o.nKvHeads, n, o.headDim]);
    disposeTensor(t);
    return out;
  }

  reset(): void {
    this.pendingTruncate = undefined;
    for (const [k, v] of this.past) disposeTensor(k), disposeTensor(v);
    this.past = this.emptyPast();
    this.cached = 0;
  }

  async dispose(): Promise<void> {
    for (const [k, v] of this.past) disposeTensor(k), disposeTensor(v);
    this.past = [];
    await this.session.release();
  }

  /** Zero-length past tensors: the first call sees past_sequence_length 0, as optimum's exports expect. */
  private emptyPast(): [OrtTensor, OrtTensor][] {
    const { ort, options: o } = this;
    const dims = [1, o.nKvHeads, 0, o.headDim];
    const make = () => (o.kvType === 'float16'
      ? new ort.Tensor('float16', new Uint16Array(0), dims)
      : new ort.Tensor('float32', new Float32Array(0), dims));
    return Array.from({ length: o.nLayers }, () => [make(), make()]);
  }
}

async function logitsData(t: OrtTensor): Promise<Float32Array> {
  const data = t.location === 'cpu' ? t.data : await t.getData();
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return Float32Array.from(data, halfToFloat); // float16 logits
  throw new InvalidArgumentError(`logits of type ${t.type} are not supported`);
}

function disposeTensor(t: OrtTensor): void {
  // CPU tensors are plain typed arrays (garbage collected); GPU ones hold a buffer until disposed.
  if (t.location !== 'cpu') t.dispose();
}

function halfToFloat(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Resolves on a new task (a MessageChannel message: unlike setTimeout, never clamped to 4 ms). */
function nextTask(): Promise<void> {
  if (typeof MessageChannel === 'undefined') return new Promise((r) => setTimeout(r, 0));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

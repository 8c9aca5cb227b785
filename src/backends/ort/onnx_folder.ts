/**
 * Reading a decoder-only model in the folder layout that optimum and transformers.js exports use:
 *
 *   config.json               architecture sizes, bos/eos ids
 *   generation_config.json    eos_token_id (one or a list), sampling defaults        (optional)
 *   tokenizer.json            the tokenizer (@huggingface/tokenizers)
 *   tokenizer_config.json     bos/eos texts, add_bos_token, chat_template             (optional)
 *   onnx/model{suffix}.onnx   the graph; suffix by dtype as transformers.js names them
 *                             ('' fp32, _fp16, _q4, _q4f16, _quantized q8, _int8, _uint8, _bnb4)
 *   onnx/model{suffix}.onnx_data[_1…]   external initializers (optional)
 *
 * The folder is a base URL or a map of paths → contents (Blob, bytes, or URL). Files are read whole (ORT
 * takes the model and its external data as buffers); a URL goes through `open` when the runtime gives one
 * (the IndexedDB weight cache), else through fetch.
 */
import { InpageError, InvalidArgumentError, ModelFileError } from '../../errors';
import { readBodyWithProgress, type ByteSource } from '../../formats/byte_source';
import type { SamplingOptions } from '../../llm/api_types';

export type OnnxDtype = 'fp32' | 'fp16' | 'q4' | 'q4f16' | 'q8' | 'int8' | 'uint8' | 'bnb4';

const DTYPE_SUFFIX: Record<OnnxDtype, string> = {
  fp32: '', fp16: '_fp16', q4: '_q4', q4f16: '_q4f16', q8: '_quantized', int8: '_int8', uint8: '_uint8', bnb4: '_bnb4',
};

/** Paths inside the folder → contents: a Blob/File, bytes, or a URL to fetch. */
export type OnnxFolderFiles = Record<string, Blob | Uint8Array | ArrayBuffer | string>;

export interface OpenedFile {
  source: ByteSource;
  /** Resolves once the whole file is stored (the cache); the model is reported ready after it. */
  whenComplete?: () => Promise<void>;
  close?: () => void;
}

export interface FolderReadOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Opens a file URL through another layer (the runtime's weight cache). */
  open?: (url: string) => Promise<OpenedFile>;
  onProgress?: (file: string, loadedBytes: number, totalBytes: number) => void;
}

/** The model's shape as the decoder needs it, from config.json. */
export interface OnnxModelConfig {
  modelType: string;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dModel: number;
  vocabSize: number;
  contextLength: number;
  bosId?: number;
  eosIds: number[];
  name: string;
}

export function modelFileFor(dtype: OnnxDtype = 'fp32'): string {
  if (!(dtype in DTYPE_SUFFIX)) throw new InvalidArgumentError(`dtype '${dtype}' is not one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  return `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`;
}

export function kvTypeFor(dtype: OnnxDtype = 'fp32'): 'float32' | 'float16' {
  return dtype === 'fp16' || dtype === 'q4f16' ? 'float16' : 'float32';
}

const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const ids = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x) => int(x) !== undefined) : int(v) !== undefined ? [v as number] : []);

/** config.json (+ generation_config.json) → the sizes the decoder needs; throws ModelFileError naming what is missing. */
export function onnxModelConfig(config: Record<string, unknown>, generation: Record<string, unknown> = {}): OnnxModelConfig {
  const first = (...keys: string[]) => {
    for (const k of keys) if (int(config[k]) !== undefined) return config[k] as number;
    return undefined;
  };
  const need = (what: string, v: number | undefined) => {
    if (v === undefined || v <= 0) throw new ModelFileError('InvalidModelFile', `config.json has no ${what}`);
    return v;
  };
  const nLayers = need('num_hidden_layers', first('num_hidden_layers', 'n_layer', 'num_layers'));
  const nHeads = need('num_attention_heads', first('num_attention_heads', 'n_head'));
  const dModel = need('hidden_size', first('hidden_size', 'n_embd', 'd_model'));
  const nKvHeads = first('num_key_value_heads') ?? (config.multi_query === true ? 1 : nHeads);
  const headDim = first('head_dim') ?? dModel / nHeads;
  if (!Number.isInteger(headDim)) throw new ModelFileError('InvalidModelFile', `config.json: hidden_size ${dModel} is not a multiple of num_attention_heads ${nHeads}, and there is no head_dim`);
  const eosIds = [...new Set([...ids(generation.eos_token_id), ...ids(config.eos_token_id)])];
  return {
    modelType: typeof config.model_type === 'string' ? config.model_type : 'unknown',
    nLayers, nHeads, nKvHeads, headDim, dModel,
    vocabSize: need('vocab_size', first('vocab_size')),
    contextLength: first('max_position_embeddings', 'n_positions', 'max_sequence_length') ?? 2048,
    bosId: int(generation.bos_token_id) ?? int(config.bos_token_id),
    eosIds,
    name: typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : typeof config.model_type === 'string' ? config.model_type : 'onnx model',
  };
}

/**
 * generation_config.json's sampling fields as request defaults (transformers' names mapped to ours;
 * do_sample false means greedy). Fields it leaves out keep the library's defaults.
 */
export function samplingDefaultsFrom(g: Record<string, unknown> = {}): Partial<SamplingOptions> {
  const num = (k: string) => (typeof g[k] === 'number' && Number.isFinite(g[k]) ? (g[k] as number) : undefined);
  const out: Partial<SamplingOptions> = {};
  if (g.do_sample === false) out.temperature = 0;
  else if (num('temperature') !== undefined) out.temperature = num('temperature');
  if (num('top_k') !== undefined) out.top_k = num('top_k');
  if (num('top_p') !== undefined) out.top_p = num('top_p');
  if (num('min_p') !== undefined) out.min_p = num('min_p');
  if (num('repetition_penalty') !== undefined) out.repetition_penalty = num('repetition_penalty');
  return out;
}

/** One folder, read file by file. */
export class OnnxFolder {
  private readonly opened: OpenedFile[] = [];
  private readonly openedByPath = new Map<string, OpenedFile>();

  constructor(
    private readonly where: { url: string } | { files: OnnxFolderFiles },
    private readonly o: FolderReadOptions = {},
  ) {
    if ('url' in where && typeof where.url !== 'string') throw new InvalidArgumentError('url must be a string (the folder holding config.json)');
  }

  describe(): string {
    return 'url' in this.where ? this.where.url : 'the given files';
  }

  private urlOf(path: string): string | undefined {
    if ('url' in this.where) return this.where.url.replace(/\/?$/, '/') + path;
    const f = this.where.files[path];
    return typeof f === 'string' ? f : undefined;
  }

  /**
   * Whether the folder has `path`: opened through `open` when there is one (a cached file then needs no
   * request, and the read that follows reuses it), else a HEAD request.
   */
  async has(path: string): Promise<boolean> {
    if ('files' in this.where && typeof this.where.files[path] !== 'string') return this.where.files[path] !== undefined;
    const url = this.urlOf(path)!;
    if (this.o.open) {
      try {
        const opened = await this.o.open(url);
        this.opened.push(opened);
        this.openedByPath.set(path, opened);
        return true;
      } catch (e) {
        if (this.o.signal?.aborted) throw e;
        return false;
      }
    }
    try {
      const r = await (this.o.fetch ?? fetch)(url, { method: 'HEAD', signal: this.o.signal });
      return r.ok;
    } catch {
      return false;
    }
  }

  async json(path: string, optional: true): Promise<Record<string, unknown> | undefined>;
  async json(path: string, optional?: false): Promise<Record<string, unknown>>;
  async json(path: string, optional = false): Promise<Record<string, unknown> | undefined> {
    const bytes = await this.bytes(path, { optional, small: true });
    if (bytes === undefined) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    } catch (e) {
      throw new ModelFileError('InvalidModelFile', `${path} in ${this.describe()} is not valid JSON: ${(e as Error).message}`);
    }
  }

  /**
   * The whole file. `small` files (JSON) are fetched directly, never through `open` (the cache keeps
   * weights); a missing optional file gives undefined.
   */
  async bytes(path: string, { optional = false, small = false }: { optional?: boolean; small?: boolean } = {}): Promise<Uint8Array | undefined> {
    const missing = () => {
      if (optional) return undefined;
      throw new ModelFileError('InvalidModelFile', `${this.describe()} has no ${path}`);
    };
    if ('files' in this.where) {
      const f = this.where.files[path];
      if (f === undefined) return missing();
      if (f instanceof Uint8Array) return f;
      if (f instanceof ArrayBuffer) return new Uint8Array(f);
      if (typeof f !== 'string') return new Uint8Array(await f.arrayBuffer());
    }
    const url = this.urlOf(path)!;
    if (!small && this.o.open) {
      let opened = this.openedByPath.get(path);
      if (!opened) {
        opened = await this.o.open(url);
        this.opened.push(opened);
      }
      return readWhole(opened.source, path, this.o);
    }
    let response: Response;
    try {
      response = await (this.o.fetch ?? fetch)(url, { signal: this.o.signal });
    } catch (e) {
      if (this.o.signal?.aborted) throw e;
      throw networkError(`${url}: ${(e as Error).message}`);
    }
    if (response.status === 404 || response.status === 410) return missing();
    if (!response.ok) throw networkError(`${url}: HTTP ${response.status}`);
    return readResponse(response, path, this.o);
  }

  /** Waits for every file opened through `open` to be complete (cached). */
  async whenComplete(): Promise<void> {
    await Promise.all(this.opened.map((f) => f.whenComplete?.()));
  }

  close(): void {
    for (const f of this.opened) f.close?.();
  }
}

function readResponse(response: Response, path: string, o: FolderReadOptions): Promise<Uint8Array> {
  const onProgress = o.onProgress;
  if (!onProgress) return response.arrayBuffer().then((b) => new Uint8Array(b));
  return readBodyWithProgress(response, (loaded, total) => onProgress(path, loaded, total));
}

async function readWhole(source: ByteSource, path: string, o: FolderReadOptions): Promise<Uint8Array> {
  if ('bytes' in source) return source.bytes;
  if ('blob' in source) return new Uint8Array(await source.blob.arrayBuffer());
  if ('url' in source) {
    const r = await (o.fetch ?? fetch)(source.url, { headers: source.headers, signal: o.signal });
    if (!r.ok) throw networkError(`${source.url}: HTTP ${r.status}`);
    return readResponse(r, path, o);
  }
  const { reader } = source;
  const out = new Uint8Array(reader.size);
  const step = 8 << 20;
  for (let at = 0; at < reader.size; at += step) {
    const end = Math.min(reader.size, at + step);
    out.set(await reader.read(at, end, { signal: o.signal }), at);
    o.onProgress?.(path, end, reader.size);
  }
  return out;
}

function networkError(message: string): InpageError {
  return new InpageError('NetworkError', `${message} (check the URL and that the server allows this page to fetch it)`);
}

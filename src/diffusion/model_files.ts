/**
 * Where a diffusion model's files come from: a base URL (the folder of a Hugging Face ONNX export; weights
 * read through the `open` the runtime passes in — the IndexedDB weight cache where it is available, see
 * src/runtime/diffusion_engine_load.ts — the small JSON/text files fetched directly), or a local folder the user selected (`<input type="file" webkitdirectory>`: a FileList whose
 * files carry webkitRelativePath), or a map of relative paths to bytes/Blobs (tests, in-memory models).
 *
 * Layout (optimum / diffusers ONNX exports): model_index.json, scheduler/scheduler_config.json,
 * tokenizer/{vocab.json, merges.txt, special_tokens_map.json?, tokenizer_config.json?},
 * text_encoder/model.onnx, unet/model.onnx (+ the external data files it names: model.onnx_data or
 * weights.pb), unet/config.json?, vae_decoder/model.onnx, vae_decoder/config.json?.
 */
import { InpageError, InvalidArgumentError, ModelFileError } from '../errors';
import { readBodyWithProgress, type ByteSource, type RangeReader } from '../formats/byte_source';

export interface FileProgress {
  file: string;
  phase: 'download' | 'cache-read' | 'read';
  loadedBytes: number;
  totalBytes: number;
  rate?: number;
  etaSeconds?: number;
}

/** Files of one model, by path relative to its root ("unet/model.onnx"). */
export interface ModelFiles {
  readonly description: string;
  /** A small text file, or undefined when it does not exist. */
  text(path: string): Promise<string | undefined>;
  /** A (weights) file in full; throws ModelFileError when missing. */
  bytes(path: string, onProgress?: (p: FileProgress) => void): Promise<Uint8Array>;
}

export type LocalFiles = ArrayLike<File> | Iterable<File> | Record<string, Blob | Uint8Array>;

const READ_CHUNK = 16 << 20;

/** A folder selection or a path → contents map. Paths drop the selected folder's own name. */
export function localFiles(files: LocalFiles): ModelFiles {
  const map = new Map<string, Blob | Uint8Array>();
  const isList = typeof (files as Iterable<File>)[Symbol.iterator] === 'function' || typeof (files as ArrayLike<File>).length === 'number';
  if (isList) {
    const list = Array.from(files as ArrayLike<File>);
    const rel = list.map((f) => ((f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name).replace(/\\/g, '/'));
    // A folder selection names every file "<folder>/<path>": strip the common first segment.
    const first = rel.map((p) => p.split('/')[0]);
    const common = rel.every((p) => p.includes('/')) && first.every((s) => s === first[0]);
    list.forEach((f, i) => map.set(common ? rel[i]!.slice(first[0]!.length + 1) : rel[i]!, f));
  } else {
    for (const [k, v] of Object.entries(files as Record<string, Blob | Uint8Array>)) map.set(k.replace(/^\.?\//, ''), v);
  }
  const get = (path: string) => map.get(path);
  return {
    description: `a local folder of ${map.size} files`,
    async text(path) {
      const f = get(path);
      if (f === undefined) return undefined;
      return f instanceof Uint8Array ? new TextDecoder().decode(f) : f.text();
    },
    async bytes(path, onProgress) {
      const f = get(path);
      if (f === undefined) throw missing(path, 'the selected folder');
      if (f instanceof Uint8Array) return f;
      const out = new Uint8Array(f.size);
      for (let at = 0; at < f.size; at += READ_CHUNK) {
        out.set(new Uint8Array(await f.slice(at, Math.min(f.size, at + READ_CHUNK)).arrayBuffer()), at);
        onProgress?.({ file: path, phase: 'read', loadedBytes: Math.min(f.size, at + READ_CHUNK), totalBytes: f.size });
      }
      return out;
    },
  };
}

/** A weight file opened by the layer above (the runtime's cache): `{ reader }` is read here, `{ url }` fetched. */
export interface OpenedWeights {
  source: ByteSource;
  /** Resolves once the whole file is stored (the cache); the bytes are returned only after it. */
  whenComplete?: () => Promise<void>;
  close?: () => void;
}

export type OpenWeights = (url: string, onProgress?: (p: Omit<FileProgress, 'file'>) => void) => Promise<OpenedWeights>;

export interface UrlFilesOptions {
  /** Opens a weight file (default: a plain fetch of its URL). */
  open?: OpenWeights;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A base URL (with or without the trailing slash). */
export function urlFiles(base: string, o: UrlFilesOptions = {}): ModelFiles {
  const root = base.endsWith('/') ? base : `${base}/`;
  const doFetch = o.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const resolve = (path: string) => {
    try {
      const page = (globalThis as { location?: { href?: string } }).location?.href;
      return new URL(path, new URL(root, page)).href;
    } catch {
      return root + path;
    }
  };
  return {
    description: root,
    async text(path) {
      const url = resolve(path);
      let r: Response;
      try {
        r = await doFetch(url, { headers: o.headers, signal: o.signal });
      } catch (e) {
        throw new InpageError('NetworkError', `${url}: ${(e as Error).message}`, { cause: e });
      }
      if (r.status === 404) return undefined;
      if (!r.ok) throw new InpageError('NetworkError', `${url}: HTTP ${r.status}`);
      return r.text();
    },
    async bytes(path, onProgress) {
      const url = resolve(path);
      const opened: OpenedWeights = o.open ? await o.open(url, onProgress && ((p) => onProgress({ file: path, ...p }))) : { source: { url } };
      const src = opened.source;
      try {
        if ('reader' in src) {
          const bytes = await readAll(src.reader, o.signal);
          await opened.whenComplete?.();
          return bytes;
        }
        return await fetchAll(doFetch, url, path, o, onProgress);
      } finally {
        opened.close?.();
      }
    },
  };
}

async function readAll(reader: RangeReader, signal?: AbortSignal): Promise<Uint8Array> {
  const out = new Uint8Array(reader.size);
  for (let at = 0; at < reader.size; at += READ_CHUNK) {
    signal?.throwIfAborted();
    const end = Math.min(reader.size, at + READ_CHUNK);
    out.set(await reader.read(at, end, { signal }), at);
  }
  return out;
}

async function fetchAll(doFetch: typeof fetch, url: string, path: string, o: UrlFilesOptions, onProgress?: (p: FileProgress) => void): Promise<Uint8Array> {
  let r: Response;
  try {
    r = await doFetch(url, { headers: o.headers, signal: o.signal });
  } catch (e) {
    throw new InpageError('NetworkError', `${url}: ${(e as Error).message}`, { cause: e });
  }
  if (r.status === 404) throw missing(path, url);
  if (!r.ok || !r.body) throw new InpageError('NetworkError', `${url}: HTTP ${r.status}`);
  return readBodyWithProgress(r, (loaded, total) => onProgress?.({ file: path, phase: 'download', loadedBytes: loaded, totalBytes: total }));
}

function missing(path: string, where: string): ModelFileError {
  return new ModelFileError('InvalidModelFile', `${path} is missing from ${where}; a Stable Diffusion ONNX export has model_index.json, tokenizer/, scheduler/, text_encoder/, unet/ and vae_decoder/`);
}

/** Parses a JSON file that must be an object. */
export function parseJsonObject(text: string, path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError('InvalidModelFile', `${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ModelFileError('InvalidModelFile', `${path} is not a JSON object`);
  return v as Record<string, unknown>;
}

export function requireSource(o: { url?: unknown; files?: unknown }): void {
  if ((o.url === undefined) === (o.files === undefined)) throw new InvalidArgumentError('loadDiffusion: pass exactly one of url (the model folder\'s base URL) or files (a local folder selection)');
}

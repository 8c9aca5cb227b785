/**
 * GGUF header reading and validation, and tensor data streaming. The header is parsed by
 * `@huggingface/gguf` through range reads; this module supplies the ranges (from a URL, Blob or bytes)
 * and then checks everything the engine relies on before any GPU work: version, tensor types, each
 * tensor's geometry, alignment, bounds within the file and overlaps. Every failure is a ModelFileError.
 */
import { gguf as parseGgufHeader, type MetadataValue } from '@huggingface/gguf';
import { InpageError, ModelFileError } from '../errors';
import { BLOCK_LAYOUT, GGML_TYPE_NAMES, SUPPORTED_TYPES, typeName, type GgmlTypeName } from './ggml_types';
import { describeSource, readRange, streamRange, type ByteSource, type ByteSourceOptions } from './byte_source';

export type { ByteSource, ByteSourceOptions } from './byte_source';
export type GgufValue = MetadataValue;
export type GgufMetadata = Record<string, GgufValue>;

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: dims[0] is the innermost (row length). */
  dims: number[];
  type: GgmlTypeName;
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
  /** Number of values (product of dims). */
  elements: number;
}

export interface GgufFile {
  version: number;
  metadata: GgufMetadata;
  tensors: GgufTensorInfo[];
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  alignment: number;
  fileSize: number;
}

export const SUPPORTED_VERSIONS = [2, 3] as const;

/** The library's first range request (its HTTP_CHUNK_SIZE); we read it first ourselves and serve it again. */
const HEADER_CHUNK = 2_000_000;
/** Smallest possible encodings, to reject absurd counts before parsing (gguf.h: u64 string length, u32 type …). */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;
const HEADER_BYTES = 4 + 4 + 8 + 8;
/** The parser's own limits (MAX_TENSOR_COUNT, MAX_KV_COUNT in @huggingface/gguf): beyond them a count is corrupt. */
const MAX_TENSORS = 10_000_000;
const MAX_KV = 100_000;
/** GGML_MAX_DIMS. */
const MAX_DIMS = 4;

const invalid = (msg: string) => new ModelFileError('InvalidModelFile', msg);
const truncated = (msg: string) => new ModelFileError('TruncatedFile', msg);

/** A fake https URL for Blob/bytes sources: the library only parses https URLs in Node; our fetch serves it. */
const LOCAL_URL = 'https://inpage.invalid/model.gguf';

/**
 * A fetch for the library that serves its Range requests from our source. The first chunk is the one
 * we already read; past the end of the file we answer with an empty range, so a truncated header parses
 * into zeros beyond EOF and is caught by the size checks below rather than by a read error.
 */
function rangeFetch(source: ByteSource, first: Uint8Array, fileSize: number, opts: ByteSourceOptions): typeof fetch {
  return (async (_input: unknown, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('Range')?.match(/^bytes=(\d+)-(\d+)$/);
    if (!range) throw new Error('internal: the GGUF parser made a request without a byte range');
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]) + 1, fileSize);
    let bytes: Uint8Array;
    if (start >= end) bytes = new Uint8Array(0);
    else if (start === 0 && end <= first.length) bytes = first.subarray(0, end);
    else bytes = (await readRange(source, start, end, opts)).bytes;
    return new Response(bytes.slice(), {
      status: 206,
      headers: { 'Content-Range': bytes.length ? `bytes ${start}-${start + bytes.length - 1}/${fileSize}` : `bytes */${fileSize}` },
    });
  }) as typeof fetch;
}

function toSafeNumber(v: bigint | number, what: string): number {
  if (typeof v === 'number') return v;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${what} is ${v}, larger than any file`);
  return Number(v);
}

/** Parses and validates a GGUF file's header. Reads only the header's byte ranges. */
export async function openGguf(source: ByteSource, opts: ByteSourceOptions = {}): Promise<GgufFile> {
  const where = describeSource(source);
  const { bytes: first, fileSize } = await readRange(source, 0, HEADER_CHUNK, opts);

  // Our own check of the fixed header, so the errors say what was found and absurd counts never reach the parser.
  if (fileSize < HEADER_BYTES) {
    throw truncated(`${where}: the file is ${fileSize} bytes; a GGUF header alone needs ${HEADER_BYTES}`);
  }
  const view = new DataView(first.buffer, first.byteOffset, first.byteLength);
  const magic = String.fromCharCode(...first.subarray(0, 4));
  if (magic !== 'GGUF') {
    const hex = Array.from(first.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw invalid(`${where}: not a GGUF file: it starts with bytes ${hex} ("${magic.replace(/[^\x20-\x7e]/g, '?')}"), expected "GGUF"`);
  }
  const version = view.getUint32(4, true);
  if (!(SUPPORTED_VERSIONS as readonly number[]).includes(version)) {
    const swapped = view.getUint32(4, false);
    const hint = (SUPPORTED_VERSIONS as readonly number[]).includes(swapped) ? ' (a big-endian file, which inpage does not read)' : '';
    throw invalid(`${where}: GGUF version ${version}${hint} is not supported; supported versions: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const nTensors = view.getBigUint64(8, true);
  const nKv = view.getBigUint64(16, true);
  if (nTensors > BigInt(MAX_TENSORS) || nKv > BigInt(MAX_KV)) {
    throw invalid(`${where}: the header declares ${nTensors} tensors and ${nKv} metadata entries; ` +
      `no real model has more than ${MAX_TENSORS} tensors or ${MAX_KV} entries, so the header is corrupt`);
  }
  const minHeader = HEADER_BYTES + Number(nKv) * MIN_KV_BYTES + Number(nTensors) * MIN_TENSOR_INFO_BYTES;
  if (minHeader > fileSize) {
    throw truncated(`${where}: the file is truncated: its header declares ${nTensors} tensors and ${nKv} metadata entries, ` +
      `which need at least ${minHeader} bytes, but the file has ${fileSize}`);
  }

  let parsed: Awaited<ReturnType<typeof parseGgufHeader>>;
  try {
    parsed = await parseGgufHeader(LOCAL_URL, { fetch: rangeFetch(source, first, fileSize, opts) });
  } catch (err) {
    if (err instanceof InpageError || opts.signal?.aborted) throw err;
    // The library throws plain Error / RangeError / TypeError on malformed bytes: name the file and keep the cause.
    throw new ModelFileError('InvalidModelFile', `${where}: malformed GGUF header: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  const [, infosEnd] = parsed.tensorInfoByteRange;
  if (infosEnd > fileSize) {
    throw truncated(`${where}: the file is truncated: its header alone runs to at least byte ${infosEnd}, but the file has ${fileSize} bytes`);
  }
  const metadata: GgufMetadata = {};
  // The library mixes the fixed header fields into the metadata; keep only the key/value pairs.
  for (const [k, v] of Object.entries(parsed.metadata)) {
    if (k !== 'version' && k !== 'tensor_count' && k !== 'kv_count' && v !== undefined) metadata[k] = v as GgufValue;
  }
  const rawAlignment = metadata['general.alignment'] ?? 32;
  const alignment = typeof rawAlignment === 'number' || typeof rawAlignment === 'bigint' ? Number(rawAlignment) : NaN;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw invalid(`${where}: general.alignment is ${String(rawAlignment)}; it must be a power of two`);
  }
  const dataOffset = toSafeNumber(parsed.tensorDataOffset, 'the data offset');
  const tensors = parsed.tensorInfos.map((t) => tensorInfo(t, dataOffset, alignment, where));
  checkLayout(tensors, dataOffset, alignment, fileSize, where);
  return { version, metadata, tensors, dataOffset, alignment, fileSize };
}

function tensorInfo(
  t: { name: string; shape: bigint[]; dtype: number; offset: bigint },
  dataOffset: number,
  alignment: number,
  where: string,
): GgufTensorInfo {
  const type = typeName(t.dtype);
  if (type === undefined) {
    const found = GGML_TYPE_NAMES[t.dtype] ?? `unknown type id ${t.dtype}`;
    throw new ModelFileError('UnsupportedQuantType', `${where}: tensor "${t.name}" has type ${found}, which inpage does not run; ` +
      `supported types: ${SUPPORTED_TYPES.join(', ')}. Pick a file quantized with one of those (e.g. Q4_K_M, Q5_K_M, Q8_0, IQ4_XS).`);
  }
  if (t.shape.length < 1 || t.shape.length > MAX_DIMS) {
    throw invalid(`${where}: tensor "${t.name}" has ${t.shape.length} dimensions; 1 to ${MAX_DIMS} are allowed`);
  }
  const dims = t.shape.map((d) => toSafeNumber(d, `tensor "${t.name}" dimension`));
  if (dims.some((d) => d < 1)) throw invalid(`${where}: tensor "${t.name}" has dims [${dims.join(', ')}]; every dimension must be at least 1`);
  const elements = dims.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(elements)) throw invalid(`${where}: tensor "${t.name}" dims [${dims.join(', ')}] are impossibly large`);
  const { blockValues, blockBytes } = BLOCK_LAYOUT[type];
  if (dims[0]! % blockValues !== 0) {
    throw invalid(`${where}: tensor "${t.name}" has rows of ${dims[0]} values, but ${type} stores blocks of ${blockValues}`);
  }
  const rel = toSafeNumber(t.offset, `tensor "${t.name}" offset`);
  if (rel % alignment !== 0) throw invalid(`${where}: tensor "${t.name}" starts at data offset ${rel}, which is not a multiple of the alignment ${alignment}`);
  return { name: t.name, dims, type, offset: dataOffset + rel, byteLength: (elements / blockValues) * blockBytes, elements };
}

/** Unique names, every tensor inside the file, no two overlapping. */
function checkLayout(tensors: GgufTensorInfo[], dataOffset: number, alignment: number, fileSize: number, where: string): void {
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw invalid(`${where}: tensor "${t.name}" appears twice`);
    names.add(t.name);
  }
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const a = byOffset[i - 1]!;
    const b = byOffset[i]!;
    if (a.offset + a.byteLength > b.offset) {
      throw invalid(`${where}: tensors "${a.name}" (bytes ${a.offset}-${a.offset + a.byteLength - 1}) and "${b.name}" (from byte ${b.offset}) overlap`);
    }
  }
  for (let i = 0; i < byOffset.length; i++) {
    const t = byOffset[i]!;
    const end = t.offset + t.byteLength;
    if (end <= fileSize) continue;
    // Packed where the previous tensor ends (the layout every writer produces): a cut-off file.
    // Anywhere else: the offset itself is wrong.
    const prev = byOffset[i - 1];
    const packedAt = prev ? Math.ceil((prev.offset + prev.byteLength - dataOffset) / alignment) * alignment + dataOffset : dataOffset;
    if (t.offset !== packedAt) {
      throw invalid(`${where}: tensor "${t.name}" lies at bytes ${t.offset}-${end - 1}, outside the ${fileSize}-byte file`);
    }
    const last = byOffset[byOffset.length - 1]!;
    throw truncated(`${where}: the file is truncated: expected at least ${last.offset + last.byteLength} bytes ` +
      `(tensor "${last.name}" ends there), but it has ${fileSize}`);
  }
}

/**
 * Streams one tensor's bytes in chunks of at most `chunkBytes` (see streamRange), with range reads; the
 * file is never held whole. `tensor` comes from openGguf on the same source.
 */
export function readTensorChunks(
  source: ByteSource,
  tensor: Pick<GgufTensorInfo, 'offset' | 'byteLength'>,
  chunkBytes = 4 * 1024 * 1024,
  opts: ByteSourceOptions = {},
): AsyncGenerator<Uint8Array> {
  if (!(Number.isInteger(chunkBytes) && chunkBytes > 0)) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  return streamRange(source, tensor.offset, tensor.byteLength, chunkBytes, opts);
}

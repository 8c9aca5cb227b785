/**
 * A small GGUF v3 writer for tests (spec: ggml's docs/gguf.md, ggml/include/gguf.h), plus simple CPU
 * quantizers and `makeSyntheticModel`, which builds complete llama.cpp-loadable `llama` / `qwen2` models
 * with a tokenizer. Test tooling only: it shares no code with src/, so the SDK's reader is checked against
 * bytes it did not produce itself. Block sizes come from ./ggml_quants (the test-side reference).
 *
 * Dims are given in GGUF order: dims[0] is the innermost (row length), so an `out × in` linear weight has
 * dims [in, out].
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../random';
import { REFERENCE_BLOCKS, type QuantType } from './ggml_quants';

// ---------------------------------------------------------------------------------------------------------
// Metadata values

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';

/** GGUF value type ids (gguf.h `enum gguf_type`). */
export const GGUF_VALUE_TYPE: Record<GgufScalarType | 'array', number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

type Scalar = number | bigint | boolean | string;
export type TypedValue =
  | { type: GgufScalarType; value: Scalar }
  | { type: 'array'; itemType: GgufScalarType; values: readonly Scalar[] };

/**
 * A metadata value: a TypedValue (exact GGUF type; build with `gv`), or a plain JS value whose type is
 * inferred: string → string, boolean → bool, bigint → u64, integer → u32 (i32 if negative), other number →
 * f32, arrays likewise by their first element (integers → i32, non-integers → f32). llama.cpp checks key
 * types strictly (e.g. `rope.freq_base` must be f32 even when it is 10000), so prefer `gv` for numbers.
 */
export type MetaValue = TypedValue | Scalar | readonly string[] | readonly number[] | readonly boolean[];

/** Typed metadata value constructors: `gv.u32(4)`, `gv.f32(1e-5)`, `gv.array('i32', [1, 2])`. */
export const gv = {
  u8: (value: number): TypedValue => ({ type: 'u8', value }),
  i8: (value: number): TypedValue => ({ type: 'i8', value }),
  u16: (value: number): TypedValue => ({ type: 'u16', value }),
  i16: (value: number): TypedValue => ({ type: 'i16', value }),
  u32: (value: number): TypedValue => ({ type: 'u32', value }),
  i32: (value: number): TypedValue => ({ type: 'i32', value }),
  f32: (value: number): TypedValue => ({ type: 'f32', value }),
  bool: (value: boolean): TypedValue => ({ type: 'bool', value }),
  string: (value: string): TypedValue => ({ type: 'string', value }),
  u64: (value: number | bigint): TypedValue => ({ type: 'u64', value }),
  i64: (value: number | bigint): TypedValue => ({ type: 'i64', value }),
  f64: (value: number): TypedValue => ({ type: 'f64', value }),
  array: (itemType: GgufScalarType, values: readonly Scalar[]): TypedValue => ({ type: 'array', itemType, values }),
};

function isTyped(v: MetaValue): v is TypedValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'type' in v;
}

function inferScalarType(v: Scalar): GgufScalarType {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'u64';
  return Number.isInteger(v) ? (v < 0 ? 'i32' : 'u32') : 'f32';
}

function toTyped(v: MetaValue): TypedValue {
  if (isTyped(v)) return v;
  if (Array.isArray(v)) {
    const values = v as readonly Scalar[];
    let itemType: GgufScalarType = 'i32';
    if (values.length > 0) {
      const first = values[0]!;
      if (typeof first === 'number') itemType = values.every((x) => Number.isInteger(x)) ? 'i32' : 'f32';
      else itemType = inferScalarType(first);
    }
    return { type: 'array', itemType, values };
  }
  return { type: inferScalarType(v as Scalar), value: v as Scalar };
}

// ---------------------------------------------------------------------------------------------------------
// Byte output

/** Little-endian append-only byte buffer. */
class ByteWriter {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  scalar(type: GgufScalarType, v: Scalar): void {
    if (type === 'string') return this.string(String(v));
    this.reserve(8);
    const at = this.length;
    const dv = this.view;
    switch (type) {
      case 'u8': dv.setUint8(at, Number(v)); this.length += 1; break;
      case 'i8': dv.setInt8(at, Number(v)); this.length += 1; break;
      case 'bool': dv.setUint8(at, v ? 1 : 0); this.length += 1; break;
      case 'u16': dv.setUint16(at, Number(v), true); this.length += 2; break;
      case 'i16': dv.setInt16(at, Number(v), true); this.length += 2; break;
      case 'u32': dv.setUint32(at, Number(v), true); this.length += 4; break;
      case 'i32': dv.setInt32(at, Number(v), true); this.length += 4; break;
      case 'f32': dv.setFloat32(at, Number(v), true); this.length += 4; break;
      case 'u64': dv.setBigUint64(at, BigInt(v), true); this.length += 8; break;
      case 'i64': dv.setBigInt64(at, BigInt(v), true); this.length += 8; break;
      case 'f64': dv.setFloat64(at, Number(v), true); this.length += 8; break;
    }
  }
  u32(v: number): void { this.scalar('u32', v); }
  u64(v: number | bigint): void { this.scalar('u64', v); }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  value(v: TypedValue): void {
    if (v.type === 'array') {
      this.u32(GGUF_VALUE_TYPE[v.itemType]);
      this.u64(v.values.length);
      for (const x of v.values) this.scalar(v.itemType, x);
    } else this.scalar(v.type, v.value);
  }
  result(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The file

/**
 * ggml type ids the writer knows by name (ggml.h `enum ggml_type`): every type the reference decodes, and
 * two that inpage does not run (IQ2_XXS, MXFP4), for tests of rejection.
 */
export const GGML_TYPE_ID = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14,
  IQ2_XXS: 16, IQ4_NL: 20, IQ4_XS: 23, BF16: 30, MXFP4: 39,
} as const;
export type WriterTypeName = keyof typeof GGML_TYPE_ID;

const WRITER_BLOCKS: Record<WriterTypeName, { values: number; bytes: number }> = {
  ...REFERENCE_BLOCKS,
  IQ2_XXS: { values: 256, bytes: 66 }, // ggml_half d; uint16_t qs[32]
  MXFP4: { values: 32, bytes: 17 }, // uint8_t e; uint8_t qs[16]
};

export interface TensorSpec {
  name: string;
  /** GGUF order: dims[0] innermost (row length). */
  dims: readonly number[];
  /** A type name, or a raw ggml type id (written as given, data length and dims unchecked: for corrupt-file tests). */
  type: WriterTypeName | number;
  /** Already-packed bytes. */
  data: Uint8Array;
  /** Override the data-section-relative offset written in the tensor info (for corrupt-file tests). */
  offsetOverride?: number | bigint;
}

export interface GgufFileSpec {
  metadata: Record<string, MetaValue>;
  tensors: readonly TensorSpec[];
  /** Default 32; written as `general.alignment` (u32) when not already in metadata and not 32. */
  alignment?: number;
  /** Default 3. */
  version?: number;
}

export interface WrittenTensor {
  name: string;
  dims: number[];
  typeId: number;
  /** Offset relative to the start of the data section. */
  relOffset: number;
  /** Absolute offset in the file. */
  offset: number;
  byteLength: number;
}

export interface WrittenGguf {
  bytes: Uint8Array<ArrayBuffer>;
  /** Absolute offset of the data section. */
  dataOffset: number;
  tensors: WrittenTensor[];
  /** Offsets of header landmarks, for truncation tests: end of the KV section and end of the tensor infos. */
  kvEnd: number;
  tensorInfosEnd: number;
}

/** Bytes a tensor of this type and dims occupies; undefined for a raw numeric type id (written unchecked). */
export function tensorByteLength(type: WriterTypeName | number, dims: readonly number[]): number | undefined {
  if (typeof type === 'number') return undefined;
  const { values, bytes } = WRITER_BLOCKS[type];
  const n = dims.reduce((a, b) => a * b, 1);
  if ((dims[0] ?? 1) % values !== 0) throw new Error(`${type}: row length ${dims[0]} is not a multiple of ${values}`);
  return (n / values) * bytes;
}

const pad = (n: number, a: number) => Math.ceil(n / a) * a;

/** Serialises a GGUF file. Tensor data is placed in the given order, each aligned per `alignment`. */
export function writeGguf(spec: GgufFileSpec): WrittenGguf {
  const alignment = spec.alignment ?? 32;
  const metadata: [string, TypedValue][] = Object.entries(spec.metadata).map(([k, v]) => [k, toTyped(v)]);
  if (alignment !== 32 && !('general.alignment' in spec.metadata)) metadata.push(['general.alignment', gv.u32(alignment)]);

  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(spec.version ?? 3);
  w.u64(spec.tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(GGUF_VALUE_TYPE[value.type]);
    w.value(value);
  }
  const kvEnd = w.length;

  const written: WrittenTensor[] = [];
  let rel = 0;
  for (const t of spec.tensors) {
    const typeId = typeof t.type === 'number' ? t.type : GGML_TYPE_ID[t.type];
    const expected = tensorByteLength(t.type, t.dims);
    if (expected !== undefined && expected !== t.data.length) {
      throw new Error(`tensor ${t.name}: ${t.data.length} bytes given, type ${String(t.type)} dims [${t.dims.join(', ')}] needs ${expected}`);
    }
    rel = pad(rel, alignment);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(typeId);
    w.u64(t.offsetOverride ?? rel);
    written.push({ name: t.name, dims: [...t.dims], typeId, relOffset: rel, offset: 0, byteLength: t.data.length });
    rel += t.data.length;
  }
  const tensorInfosEnd = w.length;
  w.zeros(pad(w.length, alignment) - w.length);
  const dataOffset = w.length;
  for (let i = 0; i < spec.tensors.length; i++) {
    const t = written[i]!;
    w.zeros(dataOffset + t.relOffset - w.length);
    t.offset = dataOffset + t.relOffset;
    w.bytes(spec.tensors[i]!.data);
  }
  // Pad the end too, like gguf_write does, so the last tensor's aligned extent lies inside the file.
  w.zeros(pad(w.length - dataOffset, alignment) + dataOffset - w.length);
  return { bytes: w.result(), dataOffset, tensors: written, kvEnd, tensorInfosEnd };
}

/** Writes bytes to a fresh temp directory; returns the path. */
export function writeTempFile(bytes: Uint8Array, name = 'model.gguf'): string {
  const dir = mkdtempSync(join(tmpdir(), 'inpage-gguf-'));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

// ---------------------------------------------------------------------------------------------------------
// Quantizers (simple round-to-nearest versions of ggml-quants.c's *_ref quantizers; any valid block is
// enough for tests, since the exact reference dequantizes whatever bytes are written)

/** float → IEEE binary16 bits, round to nearest even (as ggml's GGML_FP32_TO_FP16 does). */
export function floatToHalfBits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // a carry into the exponent is still correct
  return sign | h;
}

function halfBitsToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Rounds through f16 and back: the value an f16 field actually stores. */
const f16 = (x: number) => halfBitsToFloat(floatToHalfBits(x));

function putHalf(out: Uint8Array, at: number, x: number): number {
  const h = floatToHalfBits(x);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
  return halfBitsToFloat(h);
}

function quantizeQ8_0(x: ArrayLike<number>, n: number, out: Uint8Array, o: number): void {
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]!));
    const d = putHalf(out, o + 34 * b, amax / 127);
    const id = d ? 1 / d : 0;
    for (let j = 0; j < 32; j++) {
      const q = Math.max(-128, Math.min(127, Math.round(x[32 * b + j]! * id)));
      out[o + 34 * b + 2 + j] = q & 0xff;
    }
  }
}

function quantizeQ4_0(x: ArrayLike<number>, n: number, out: Uint8Array, o: number): void {
  for (let b = 0; b < n / 32; b++) {
    // As quantize_row_q4_0_ref: d = (value of largest magnitude) / -8, so that value maps to q = 0 exactly.
    let max = 0;
    for (let j = 0; j < 32; j++) if (Math.abs(x[32 * b + j]!) > Math.abs(max)) max = x[32 * b + j]!;
    const d = putHalf(out, o + 18 * b, max / -8);
    const id = d ? 1 / d : 0;
    const q = (v: number) => Math.min(15, Math.max(0, Math.trunc(v * id + 8.5)));
    for (let j = 0; j < 16; j++) out[o + 18 * b + 2 + j] = q(x[32 * b + j]!) | (q(x[32 * b + 16 + j]!) << 4);
  }
}

function quantizeQ4_K(x: ArrayLike<number>, n: number, out: Uint8Array, o: number): void {
  for (let b = 0; b < n / 256; b++) {
    const base = 256 * b;
    const at = o + 144 * b;
    // Per 32-value sub-block: value ≈ scale·q − min with q in 0..15, min ≥ 0.
    const scales: number[] = [];
    const mins: number[] = [];
    for (let s = 0; s < 8; s++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        lo = Math.min(lo, x[base + 32 * s + l]!);
        hi = Math.max(hi, x[base + 32 * s + l]!);
      }
      lo = Math.min(lo, 0);
      mins.push(-lo);
      scales.push((hi - lo) / 15);
    }
    const d = putHalf(out, at, Math.max(...scales) / 63);
    const dmin = putHalf(out, at + 2, Math.max(...mins) / 63);
    const ls = scales.map((s) => (d ? Math.min(63, Math.round(s / d)) : 0));
    const lm = mins.map((m) => (dmin ? Math.min(63, Math.round(m / dmin)) : 0));
    // Pack as quantize_row_q4_K_ref does (the inverse of get_scale_min_k4).
    const sc = out.subarray(at + 4, at + 16);
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        sc[j] = ls[j]!;
        sc[j + 4] = lm[j]!;
      } else {
        sc[j + 4] = (ls[j]! & 0xf) | ((lm[j]! & 0xf) << 4);
        sc[j - 4]! |= (ls[j]! >> 4) << 6;
        sc[j]! |= (lm[j]! >> 4) << 6;
      }
    }
    const q = (v: number, s: number) => {
      const step = d * ls[s]!;
      return step ? Math.min(15, Math.max(0, Math.round((v + dmin * lm[s]!) / step))) : 0;
    };
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const lo = q(x[base + 64 * c + l]!, 2 * c);
        const hi = q(x[base + 64 * c + 32 + l]!, 2 * c + 1);
        out[at + 16 + 32 * c + l] = lo | (hi << 4);
      }
    }
  }
}

function quantizeQ6_K(x: ArrayLike<number>, n: number, out: Uint8Array, o: number): void {
  for (let b = 0; b < n / 256; b++) {
    const base = 256 * b;
    const at = o + 210 * b;
    const sub: number[] = [];
    for (let s = 0; s < 16; s++) {
      let amax = 0;
      for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[base + 16 * s + l]!));
      sub.push(amax / 31);
    }
    const d = putHalf(out, at + 208, Math.max(...sub) / 127);
    const ls = sub.map((s) => (d ? Math.min(127, Math.round(s / d)) : 0));
    for (let s = 0; s < 16; s++) out[at + 192 + s] = ls[s]! & 0xff;
    const L = new Uint8Array(256);
    for (let i = 0; i < 256; i++) {
      const step = d * ls[i >> 4]!;
      L[i] = step ? Math.min(63, Math.max(0, Math.round(x[base + i]! / step) + 32)) : 32;
    }
    // Interleave as dequantize_row_q6_K reads it: per 128-value half n, ql advances 64, qh 32.
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[128 * h + l]!;
        const q2 = L[128 * h + l + 32]!;
        const q3 = L[128 * h + l + 64]!;
        const q4 = L[128 * h + l + 96]!;
        out[at + 64 * h + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[at + 64 * h + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[at + 128 + 32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}

/** Packs a rows × cols row-major matrix (each row quantized independently, as GGUF stores it). */
export function quantize(type: QuantType, values: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  const { values: bv, bytes: bb } = REFERENCE_BLOCKS[type];
  if (cols % bv !== 0) throw new Error(`${type}: cols ${cols} is not a multiple of ${bv}`);
  if (values.length !== rows * cols) throw new Error(`quantize: ${values.length} values for ${rows}×${cols}`);
  const rb = (cols / bv) * bb;
  const out = new Uint8Array(rows * rb);
  if (type === 'F32') {
    new Float32Array(out.buffer).set(Array.from(values));
    return out;
  }
  if (type === 'F16') {
    for (let i = 0; i < rows * cols; i++) putHalf(out, 2 * i, values[i]!);
    return out;
  }
  if (type === 'BF16') {
    // ggml_compute_fp32_to_bf16: round to nearest even on the top 16 bits of the f32.
    const bits = new Uint32Array(Float32Array.from(values).buffer);
    for (let i = 0; i < rows * cols; i++) {
      const u = bits[i]!;
      const b = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
      out[2 * i] = b & 0xff;
      out[2 * i + 1] = b >> 8;
    }
    return out;
  }
  if (type !== 'Q8_0' && type !== 'Q4_0' && type !== 'Q4_K' && type !== 'Q6_K') {
    throw new Error(`quantize: the test writer has no ${type} quantizer; write F32 and use llama.cpp's (./llamacpp_quantize.ts)`);
  }
  const row = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) row[c] = values[r * cols + c]!;
    const o = r * rb;
    if (type === 'Q8_0') quantizeQ8_0(row, cols, out, o);
    else if (type === 'Q4_0') quantizeQ4_0(row, cols, out, o);
    else if (type === 'Q4_K') quantizeQ4_K(row, cols, out, o);
    else quantizeQ6_K(row, cols, out, o);
  }
  return out;
}

export { f16 as roundToHalf };

// ---------------------------------------------------------------------------------------------------------
// Tokenizers

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
export function gpt2ByteToUnicode(): string[] {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + n++);
  return table;
}

/** Text the synthetic tokenizers are trained on: enough repetition for a few dozen useful merges. */
export const TOKENIZER_CORPUS =
  'The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs into the ' +
  'forest. There is nothing either good or bad, but thinking makes it so. In the beginning the world ' +
  'was without form; then there was light, and it was good. Hello world! Hello there, how are you? ' +
  'I am fine, thank you. 12345 + 678 = 13023. It is what it is, and that is that.\n';

/** Greedy BPE training: repeatedly merge the most frequent adjacent pair (ties: first seen). */
export function trainMerges(words: string[][], nMerges: number): [string, string][] {
  const merges: [string, string][] = [];
  for (let m = 0; m < nMerges; m++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) {
      const k = `${w[i]}\u0000${w[i + 1]}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [k, c] of counts) if (c > bestCount) [best, bestCount] = [k, c];
    if (best === undefined) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) {
      if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
    }
  }
  return merges;
}

export type BpePre = 'gpt-2' | 'llama-bpe' | 'qwen2';

export interface SyntheticVocab {
  tokens: string[];
  tokenTypes: number[];
  /** SPM only. */
  scores?: number[];
  /** BPE only: "a b" strings. */
  merges?: string[];
  bos: number;
  eos: number;
  unk?: number;
  addBos: boolean;
  metadata: Record<string, MetaValue>;
}

/** GGUF token types (llama.h `llama_token_type`). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/**
 * Byte-level BPE vocabulary: the 256 GPT-2 byte symbols, `nMerges` merges trained on TOKENIZER_CORPUS,
 * then the special tokens of the chosen pre-tokenizer family (control tokens, last).
 */
export function makeBpeVocab(pre: BpePre = 'gpt-2', nMerges = 64): SyntheticVocab {
  const b2u = gpt2ByteToUnicode();
  const enc = new TextEncoder();
  const words = (TOKENIZER_CORPUS.match(/ ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+/g) ?? []).map((w) =>
    Array.from(enc.encode(w), (b) => b2u[b]!),
  );
  const merges = trainMerges(words, nMerges);
  const tokens = [...b2u];
  const seen = new Set(tokens);
  for (const [a, b] of merges) if (!seen.has(a + b)) { seen.add(a + b); tokens.push(a + b); }
  const tokenTypes: number[] = tokens.map(() => TOKEN_TYPE.NORMAL);
  const specials =
    pre === 'llama-bpe' ? ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>']
    : pre === 'qwen2' ? ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
    : ['<|endoftext|>'];
  const first = tokens.length;
  for (const s of specials) { tokens.push(s); tokenTypes.push(TOKEN_TYPE.CONTROL); }
  // Llama 3 starts prompts with <|begin_of_text|>; Qwen2 adds no BOS; GPT-2-style files here add <|endoftext|>.
  const bos = first;
  const eos = pre === 'llama-bpe' ? first + 1 : first;
  const addBos = pre !== 'qwen2';
  const mergeStrings = merges.map(([a, b]) => `${a} ${b}`);
  return {
    tokens, tokenTypes, merges: mergeStrings, bos, eos, addBos,
    metadata: {
      'tokenizer.ggml.model': gv.string('gpt2'),
      'tokenizer.ggml.pre': gv.string(pre),
      'tokenizer.ggml.tokens': gv.array('string', tokens),
      'tokenizer.ggml.token_type': gv.array('i32', tokenTypes),
      'tokenizer.ggml.merges': gv.array('string', mergeStrings),
      'tokenizer.ggml.bos_token_id': gv.u32(bos),
      'tokenizer.ggml.eos_token_id': gv.u32(eos),
      'tokenizer.ggml.add_bos_token': gv.bool(addBos),
    },
  };
}

/**
 * SentencePiece-style vocabulary as llama.cpp's `llama` tokenizer model reads it: `<unk>`, `<s>`, `</s>`,
 * the 256 `<0xNN>` byte-fallback tokens, single characters of the corpus, then pieces (with `▁` for
 * spaces) from BPE training, each scored so that later merges score lower (SPM merges highest score first).
 */
export function makeSpmVocab(nMerges = 64): SyntheticVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const tokenTypes: number[] = [TOKEN_TYPE.UNKNOWN, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    tokenTypes.push(TOKEN_TYPE.BYTE);
    scores.push(0);
  }
  // Omit some characters (digits 5-9, '!') on purpose, so byte fallback is exercised.
  const text = TOKENIZER_CORPUS.replace(/ /g, '\u2581');
  const chars = [...new Set(Array.from(text))].filter((c) => c !== '\n' && !/[5-9!]/.test(c)).sort();
  const words = (text.match(/\u2581?[^\u2581]+/g) ?? []).map((w) => Array.from(w));
  const merges = trainMerges(words, nMerges);
  const seen = new Set<string>();
  for (const c of chars) { seen.add(c); tokens.push(c); tokenTypes.push(TOKEN_TYPE.NORMAL); scores.push(-1000 - tokens.length); }
  merges.forEach(([a, b], i) => {
    if (seen.has(a + b)) return;
    seen.add(a + b);
    tokens.push(a + b);
    tokenTypes.push(TOKEN_TYPE.NORMAL);
    scores.push(-i);
  });
  return {
    tokens, tokenTypes, scores, bos: 1, eos: 2, unk: 0, addBos: true,
    metadata: {
      'tokenizer.ggml.model': gv.string('llama'),
      'tokenizer.ggml.tokens': gv.array('string', tokens),
      'tokenizer.ggml.scores': gv.array('f32', scores),
      'tokenizer.ggml.token_type': gv.array('i32', tokenTypes),
      'tokenizer.ggml.bos_token_id': gv.u32(1),
      'tokenizer.ggml.eos_token_id': gv.u32(2),
      'tokenizer.ggml.unknown_token_id': gv.u32(0),
      'tokenizer.ggml.add_bos_token': gv.bool(true),
      'tokenizer.ggml.add_eos_token': gv.bool(false),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic models

/** Weight roles, for choosing a type per tensor. Norms and biases are always F32. */
export type WeightRole = 'token_embd' | 'output' | 'attn_q' | 'attn_k' | 'attn_v' | 'attn_output' | 'ffn_gate' | 'ffn_up' | 'ffn_down';

export type SyntheticTokenizer = { model: 'gpt2'; pre?: BpePre; merges?: number } | { model: 'llama'; merges?: number };

export interface SyntheticModelOptions {
  architecture: 'llama' | 'qwen2';
  nLayers?: number;
  dModel?: number;
  nHeads?: number;
  nKvHeads?: number;
  dFf?: number;
  contextLength?: number;
  ropeBase?: number;
  rmsEps?: number;
  /** Default true: no `output.weight`, logits use the token embedding. */
  tiedOutput?: boolean;
  /** Q/K/V biases; default true for qwen2 (llama.cpp requires them there), false for llama. */
  qkvBias?: boolean;
  tokenizer?: SyntheticTokenizer;
  /** Type of every 2-D weight unless overridden in `types`. Default F32. */
  weightType?: QuantType;
  types?: Partial<Record<WeightRole, QuantType>>;
  /** Uniform scale of the embedding (and untied output) weights; larger → more peaked next-token distributions. */
  embedScale?: number;
  /** Uniform scale of an untied `output.weight`. Default 2. */
  outputScale?: number;
  /**
   * Gain of the matrices that write into the residual stream (attn_output, ffn_down: ±gain/√in). Large
   * enough (default 12) that the layers' contribution outweighs the token's own embedding; otherwise a tied
   * head just predicts the current token again and greedy runs are trivially repetitive.
   */
  residualGain?: number;
  seed?: number;
  /** Extra or replacement metadata (applied last). */
  extraMetadata?: Record<string, MetaValue>;
  /** Write a Llama 3.1-style `rope_freqs.weight` (F32, ropeDim/2 divisors in [1, 8]); llama only. */
  ropeFreqs?: boolean;
  /** Tensor names to leave out (for missing-tensor tests). */
  omitTensors?: readonly string[];
  alignment?: number;
}

export interface SyntheticModel extends WrittenGguf {
  vocab: SyntheticVocab;
  /** What was written, so a test can rewrite it with changes (writeGguf({ metadata, tensors: specs })). */
  specs: TensorSpec[];
  /** Resolved hyperparameters. */
  config: {
    architecture: 'llama' | 'qwen2'; nLayers: number; dModel: number; nHeads: number; nKvHeads: number;
    headDim: number; dFf: number; contextLength: number; ropeBase: number; rmsEps: number; vocabSize: number;
    tiedOutput: boolean; qkvBias: boolean;
  };
  metadata: Record<string, MetaValue>;
}

/**
 * A complete model llama.cpp loads: hyperparameter keys under `<arch>.` (the ones llama-model.cpp's
 * load_hparams reads; `rope.freq_base` and `layer_norm_rms_epsilon` as f32), tensors named and shaped as
 * llama-model.cpp's load_tensors creates them, and a tokenizer. Weights are seeded-random: matrices uniform
 * in ±1/√in (so activations stay O(1)), norms near 1, embedding ±embedScale so logits are peaked.
 */
export function makeSyntheticModel(options: SyntheticModelOptions): SyntheticModel {
  const arch = options.architecture;
  const nLayers = options.nLayers ?? 2;
  const dModel = options.dModel ?? 64;
  const nHeads = options.nHeads ?? 4;
  const nKvHeads = options.nKvHeads ?? 2;
  const dFf = options.dFf ?? 128;
  const contextLength = options.contextLength ?? 128;
  const ropeBase = options.ropeBase ?? (arch === 'qwen2' ? 1000000 : 10000);
  const rmsEps = options.rmsEps ?? (arch === 'qwen2' ? 1e-6 : 1e-5);
  const tiedOutput = options.tiedOutput ?? true;
  const qkvBias = options.qkvBias ?? arch === 'qwen2';
  const headDim = dModel / nHeads;
  if (!Number.isInteger(headDim) || nHeads % nKvHeads !== 0) throw new Error('makeSyntheticModel: bad head counts');
  const tok = options.tokenizer ?? { model: 'gpt2', pre: arch === 'qwen2' ? 'qwen2' : 'gpt-2' };
  const vocab = tok.model === 'llama' ? makeSpmVocab(tok.merges) : makeBpeVocab(tok.pre, tok.merges);
  const nVocab = vocab.tokens.length;
  const embedScale = options.embedScale ?? 1;
  const outputScale = options.outputScale ?? 2;
  const gain = options.residualGain ?? 12;
  const r = rng(options.seed ?? 1234);
  const uniform = (n: number, scale: number, offset = 0) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = offset + (r() * 2 - 1) * scale;
    return a;
  };
  const typeOf = (role: WeightRole): QuantType => options.types?.[role] ?? options.weightType ?? 'F32';
  const omit = new Set(options.omitTensors ?? []);
  const tensors: TensorSpec[] = [];
  const matrix = (name: string, role: WeightRole, rows: number, cols: number, scale: number) => {
    const type = typeOf(role);
    const data = quantize(type, uniform(rows * cols, scale), rows, cols);
    if (!omit.has(name)) tensors.push({ name, dims: [cols, rows], type, data });
  };
  const vector = (name: string, n: number, scale: number, offset: number) => {
    const data = new Uint8Array(uniform(n, scale, offset).buffer);
    if (!omit.has(name)) tensors.push({ name, dims: [n], type: 'F32', data });
  };

  matrix('token_embd.weight', 'token_embd', nVocab, dModel, embedScale);
  const kvDim = nKvHeads * headDim;
  for (let l = 0; l < nLayers; l++) {
    const p = `blk.${l}.`;
    vector(`${p}attn_norm.weight`, dModel, 0.2, 1);
    matrix(`${p}attn_q.weight`, 'attn_q', dModel, dModel, 1 / Math.sqrt(dModel));
    matrix(`${p}attn_k.weight`, 'attn_k', kvDim, dModel, 1 / Math.sqrt(dModel));
    matrix(`${p}attn_v.weight`, 'attn_v', kvDim, dModel, 1 / Math.sqrt(dModel));
    if (qkvBias) {
      vector(`${p}attn_q.bias`, dModel, 0.5, 0);
      vector(`${p}attn_k.bias`, kvDim, 0.5, 0);
      vector(`${p}attn_v.bias`, kvDim, 0.5, 0);
    }
    matrix(`${p}attn_output.weight`, 'attn_output', dModel, dModel, gain / Math.sqrt(dModel));
    vector(`${p}ffn_norm.weight`, dModel, 0.2, 1);
    matrix(`${p}ffn_gate.weight`, 'ffn_gate', dFf, dModel, 1 / Math.sqrt(dModel));
    matrix(`${p}ffn_up.weight`, 'ffn_up', dFf, dModel, 1 / Math.sqrt(dModel));
    matrix(`${p}ffn_down.weight`, 'ffn_down', dModel, dFf, gain / Math.sqrt(dFf));
  }
  vector('output_norm.weight', dModel, 0.2, 1);
  if (options.ropeFreqs) vector('rope_freqs.weight', headDim / 2, 3.5, 4.5);
  if (!tiedOutput) matrix('output.weight', 'output', nVocab, dModel, outputScale);

  const metadata: Record<string, MetaValue> = {
    'general.architecture': gv.string(arch),
    'general.name': gv.string(`synthetic-${arch}`),
    [`${arch}.context_length`]: gv.u32(contextLength),
    [`${arch}.embedding_length`]: gv.u32(dModel),
    [`${arch}.block_count`]: gv.u32(nLayers),
    [`${arch}.feed_forward_length`]: gv.u32(dFf),
    [`${arch}.rope.dimension_count`]: gv.u32(headDim),
    [`${arch}.attention.head_count`]: gv.u32(nHeads),
    [`${arch}.attention.head_count_kv`]: gv.u32(nKvHeads),
    [`${arch}.attention.layer_norm_rms_epsilon`]: gv.f32(rmsEps),
    [`${arch}.rope.freq_base`]: gv.f32(ropeBase),
    [`${arch}.vocab_size`]: gv.u32(nVocab),
    ...vocab.metadata,
    ...options.extraMetadata,
  };
  const written = writeGguf({ metadata, tensors, alignment: options.alignment });
  return {
    ...written,
    vocab,
    specs: tensors,
    metadata,
    config: {
      architecture: arch, nLayers, dModel, nHeads, nKvHeads, headDim, dFf, contextLength, ropeBase, rmsEps,
      vocabSize: nVocab, tiedOutput, qkvBias,
    },
  };
}

/** makeSyntheticModel written to a temp file: returns the model (bytes included) and its path. */
export function writeSyntheticModel(options: SyntheticModelOptions): SyntheticModel & { path: string } {
  const model = makeSyntheticModel(options);
  return { ...model, path: writeTempFile(model.bytes, `synthetic-${options.architecture}.gguf`) };
}

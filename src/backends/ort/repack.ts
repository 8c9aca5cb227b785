/**
 * GGUF weight blocks → the layout of onnxruntime's com.microsoft MatMulNBits (docs/ContribOperators.md):
 * B is uint8 [N, n_blocks, blob] (4 bits: element 2i in the low nibble of byte i, 2i+1 in the high one),
 * scales [N, n_blocks], value = (u − zero_point)·scale with zero_point 2^(bits−1) unless given.
 *
 * Each mapping keeps the GGUF values (no requantization):
 *   Q4_0 → 4 bits, block 32, zero point 8: u = the GGUF nibble, scale = d. Exact.
 *   Q8_0 → 8 bits, block 32, zero point 128: u = q + 128, scale = d. Exact.
 *   Q6_K → 8 bits, block 16, zero point 128: u = q6 + 96 (so u − 128 = q6 − 32), scale = d·sc (an f16 times
 *          an int8: exact in f32). Exact.
 *   Q4_K → 4 bits, block 32, FLOAT zero points (onnxruntime's CPU/WASM kernel takes them for 4 bits, not
 *          for 8): scale = d·sc, zero_point = dmin·m / (d·sc), so (q − zp)·scale = d·sc·q − dmin·m up to
 *          f32 rounding of zp and of the product (relative ~1e-7). A sub-block with sc = 0 but m ≠ 0 (a
 *          constant −dmin·m) has no such form: that tensor is dequantized to f32 instead.
 *   Q5_0 → 8 bits, block 32, zero point 128: u = q5 + 112 (so u − 128 = q5 − 16), scale = d. Exact.
 *   IQ4_NL → 8 bits, block 32, zero point 128: u = kvalues[q] + 128, scale = d. Exact.
 *   IQ4_XS → the same per 32-value sub-block, scale = d·(ls − 32) (an f16 times a small integer). Exact.
 *   Q3_K → 4 bits, block 16, zero point 8: u = q3 + 8 (q3 ∈ [−4, 3]), scale = d·(sc − 32). Exact.
 *   Q4_1 → 4 bits, block 32, float zero points: scale = d, zero_point = −m/d, as Q4_K (f32 rounding).
 *   Q2_K → 4 bits, block 16, float zero points: scale = d·sc, zero_point = dmin·m/(d·sc), as Q4_K.
 *   Q5_1, Q5_K → f32: their 5-bit values with a float offset would need 8-bit float zero points, which
 *          onnxruntime's CPU kernel does not take. Dequantized exactly as ggml's to_float does (in f32).
 *   F16, BF16 → f32 (exact), F32 → f32: a plain MatMul.
 * Other types never get here (openGguf rejects them); exportGgufToOnnx still refuses them by name.
 */
import { ModelFileError } from '../../errors';
import { SUPPORTED_TYPES, type GgmlTypeName } from '../../formats/ggml_types';
import { f16BitsToFloat } from '../../gpu/f16';

export type PackedMatrix =
  | {
      kind: 'nbits';
      /** Output features N (GGUF rows). */
      rows: number;
      /** Input features K (GGUF row length). */
      cols: number;
      bits: 4 | 8;
      blockSize: number;
      /** [rows, cols / blockSize, blockSize·bits/8]. */
      data: Uint8Array;
      /** [rows, cols / blockSize]. */
      scales: Float32Array;
      /** Float zero points [rows, cols / blockSize] (Q4_K); absent: 2^(bits−1). */
      zeroPoints?: Float32Array;
    }
  | { kind: 'float'; rows: number; cols: number; /** Row-major [rows, cols] (GGUF order). */ data: Float32Array };

export const REPACKABLE_TYPES: readonly GgmlTypeName[] = SUPPORTED_TYPES;

/** A tensor's GGUF bytes (rows × cols values, cols the row length) in MatMulNBits or float form. */
export function repack(type: string, bytes: Uint8Array, rows: number, cols: number, name = 'tensor'): PackedMatrix {
  const float = (f: (src: Uint8Array, n: number) => Float32Array): PackedMatrix => ({ kind: 'float', rows, cols, data: f(bytes, rows * cols) });
  switch (type) {
    case 'Q4_0': return repackQ4_0(bytes, rows, cols);
    case 'Q8_0': return repackQ8_0(bytes, rows, cols);
    case 'Q6_K': return repackQ6_K(bytes, rows, cols);
    case 'Q4_K': return repackQ4_K(bytes, rows, cols) ?? float(dequantizeQ4_K);
    case 'Q4_1': return repackQ4_1(bytes, rows, cols) ?? float(dequantizeQ4_1);
    case 'Q2_K': return repackQ2_K(bytes, rows, cols) ?? float(dequantizeQ2_K);
    case 'Q5_0': return repackQ5_0(bytes, rows, cols);
    case 'Q3_K': return repackQ3_K(bytes, rows, cols);
    case 'IQ4_NL': return repackIq4(bytes, rows, cols, 'IQ4_NL');
    case 'IQ4_XS': return repackIq4(bytes, rows, cols, 'IQ4_XS');
    case 'Q5_1': return float(dequantizeQ5_1);
    case 'Q5_K': return float(dequantizeQ5_K);
    case 'F16': {
      const h = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + rows * cols * 2));
      return { kind: 'float', rows, cols, data: Float32Array.from(h, f16BitsToFloat) };
    }
    case 'BF16': {
      const h = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + rows * cols * 2));
      return { kind: 'float', rows, cols, data: new Float32Array(Uint32Array.from(h, (b) => b << 16).buffer) };
    }
    case 'F32':
      return { kind: 'float', rows, cols, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + rows * cols * 4)) };
    default:
      throw new ModelFileError('UnsupportedQuantType', `${name} is ${type}, which the onnxruntime backend does not map (supported: ${REPACKABLE_TYPES.join(', ')}); pick a file quantized with one of those`);
  }
}

/** Quantized types that have no lossless MatMulNBits form here, so repack always gives f32 for them. */
export const DEQUANTIZED_TYPES: readonly GgmlTypeName[] = ['Q5_1', 'Q5_K'];

function half(b: Uint8Array, at: number): number {
  return f16BitsToFloat(b[at]! | (b[at + 1]! << 8));
}

function repackQ4_0(src: Uint8Array, rows: number, cols: number): PackedMatrix {
  const nb = (rows * cols) / 32;
  const data = new Uint8Array(nb * 16);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const at = 18 * b;
    scales[b] = half(src, at);
    // GGUF: qs[j] low nibble = element j, high nibble = element j+16. Ours: byte i = elements 2i | 2i+1 << 4.
    const nib = (e: number) => (e < 16 ? src[at + 2 + e]! & 15 : src[at + 2 + e - 16]! >> 4);
    for (let i = 0; i < 16; i++) data[16 * b + i] = nib(2 * i) | (nib(2 * i + 1) << 4);
  }
  return { kind: 'nbits', rows, cols, bits: 4, blockSize: 32, data, scales };
}

function repackQ8_0(src: Uint8Array, rows: number, cols: number): PackedMatrix {
  const nb = (rows * cols) / 32;
  const data = new Uint8Array(nb * 32);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const at = 34 * b;
    scales[b] = half(src, at);
    for (let j = 0; j < 32; j++) data[32 * b + j] = src[at + 2 + j]! ^ 0x80; // int8 q → q + 128
  }
  return { kind: 'nbits', rows, cols, bits: 8, blockSize: 32, data, scales };
}

function int8(v: number): number {
  return v >= 128 ? v - 256 : v;
}

function repackQ6_K(src: Uint8Array, rows: number, cols: number): PackedMatrix {
  const nb = (rows * cols) / 256;
  const data = new Uint8Array(nb * 256);
  const scales = new Float32Array(nb * 16);
  for (let b = 0; b < nb; b++) {
    const at = 210 * b;
    const d = half(src, at + 208);
    for (let s = 0; s < 16; s++) scales[16 * b + s] = d * int8(src[at + 192 + s]!); // 16 values per scale
    const out = 256 * b;
    // dequantize_row_q6_K's interleaving: two halves of 128; in each, ql advances 64 and qh 32.
    for (let n = 0; n < 2; n++) {
      const ql = at + 64 * n;
      const qh = at + 128 + 32 * n;
      const o = out + 128 * n;
      for (let l = 0; l < 32; l++) {
        const h = src[qh + l]!;
        data[o + l] = ((src[ql + l]! & 15) | ((h & 3) << 4)) + 96;
        data[o + l + 32] = ((src[ql + l + 32]! & 15) | (((h >> 2) & 3) << 4)) + 96;
        data[o + l + 64] = ((src[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) + 96;
        data[o + l + 96] = ((src[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) + 96;
      }
    }
  }
  return { kind: 'nbits', rows, cols, bits: 8, blockSize: 16, data, scales };
}

/** llama.cpp's get_scale_min_k4: the j-th 6-bit scale and min of a Q4_K block's 12 scale bytes at `at`. */
function scaleMinK4(j: number, q: Uint8Array, at: number): [number, number] {
  if (j < 4) return [q[at + j]! & 63, q[at + j + 4]! & 63];
  return [(q[at + j + 4]! & 15) | ((q[at + j - 4]! >> 6) << 4), (q[at + j + 4]! >> 4) | ((q[at + j]! >> 6) << 4)];
}

/** Q4_K as 4-bit blocks of 32 with float zero points, or undefined when a sub-block cannot be expressed so. */
function repackQ4_K(src: Uint8Array, rows: number, cols: number): PackedMatrix | undefined {
  const nb = (rows * cols) / 256;
  const data = new Uint8Array(nb * 128);
  const scales = new Float32Array(nb * 8);
  const zeroPoints = new Float32Array(nb * 8);
  for (let b = 0; b < nb; b++) {
    const at = 144 * b;
    const d = half(src, at);
    const dmin = half(src, at + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(j, src, at + 4);
      const scale = d * sc;
      const min = dmin * m;
      if (scale === 0 && min !== 0) return undefined;
      scales[8 * b + j] = scale;
      zeroPoints[8 * b + j] = scale === 0 ? 0 : min / scale;
    }
    // GGUF: chunk c (64 values): qs[32c + l] low nibble = value 64c + l, high = value 64c + 32 + l.
    const nib = (e: number) => {
      const c = e >> 6, r = e & 63;
      const byte = src[at + 16 + 32 * c + (r & 31)]!;
      return r < 32 ? byte & 15 : byte >> 4;
    };
    for (let i = 0; i < 128; i++) data[128 * b + i] = nib(2 * i) | (nib(2 * i + 1) << 4);
  }
  return { kind: 'nbits', rows, cols, bits: 4, blockSize: 32, data, scales, zeroPoints };
}

function dequantizeQ4_K(src: Uint8Array, n: number): Float32Array {
  const nb = n / 256;
  const y = new Float32Array(n);
  for (let b = 0; b < nb; b++) {
    const at = 144 * b;
    const d = half(src, at);
    const dmin = half(src, at + 2);
    for (let e = 0; e < 256; e++) {
      const c = e >> 6, r = e & 63;
      const [sc, m] = scaleMinK4(2 * c + (r >> 5), src, at + 4);
      const byte = src[at + 16 + 32 * c + (r & 31)]!;
      y[256 * b + e] = d * sc * (r < 32 ? byte & 15 : byte >> 4) - dmin * m;
    }
  }
  return y;
}

/**
 * The matrix as f32 in MatMul's [in, out] layout (transposed from GGUF's [out, in]): each weight is
 * (u − zero_point)·scale rounded once to f32 — exact for Q4_0, Q8_0, Q6_K, F16 and F32 (the products fit
 * f32's 24-bit significand), f32 rounding for Q4_K.
 */
export function toF32Transposed(m: PackedMatrix): Float32Array {
  const { rows: N, cols: K } = m;
  const out = new Float32Array(N * K);
  if (m.kind === 'float') {
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k * N + n] = m.data[n * K + k]!;
    return out;
  }
  const nb = K / m.blockSize;
  const blob = (m.blockSize * m.bits) / 8;
  const defaultZero = 2 ** (m.bits - 1);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nb; b++) {
      const scale = m.scales[n * nb + b]!;
      const zero = m.zeroPoints ? m.zeroPoints[n * nb + b]! : defaultZero;
      const at = (n * nb + b) * blob;
      for (let j = 0; j < m.blockSize; j++) {
        const u = m.bits === 4 ? (m.data[at + (j >> 1)]! >> ((j & 1) * 4)) & 15 : m.data[at + j]!;
        out[(b * m.blockSize + j) * N + n] = (u - zero) * scale;
      }
    }
  }
  return out;
}

const f = Math.fround;

/** 4-bit MatMulNBits data: element 2i in the low nibble of byte i, 2i+1 in the high one, from `value(e)`. */
function packNibbles(n: number, value: (e: number) => number): Uint8Array {
  const data = new Uint8Array(n / 2);
  for (let i = 0; i < n / 2; i++) data[i] = value(2 * i) | (value(2 * i + 1) << 4);
  return data;
}

/** The 5-bit q of element j of a Q5_0 / Q5_1 block: nibble j of qs at `qs`, bit j of the u32 qh at `qh`. */
function q5(src: Uint8Array, qh: number, qs: number, j: number): number {
  const nib = j < 16 ? src[qs + j]! & 15 : src[qs + j - 16]! >> 4;
  return nib | (((src[qh + (j >> 3)]! >> (j & 7)) & 1) << 4);
}

function repackQ5_0(src: Uint8Array, rows: number, cols: number): PackedMatrix {
  const nb = (rows * cols) / 32;
  const data = new Uint8Array(nb * 32);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const at = 22 * b;
    scales[b] = half(src, at);
    for (let j = 0; j < 32; j++) data[32 * b + j] = q5(src, at + 2, at + 6, j) + 112;
  }
  return { kind: 'nbits', rows, cols, bits: 8, blockSize: 32, data, scales };
}

/** Q4_1: value = d·q + m = (q − (−m/d))·d; undefined where d = 0 but m ≠ 0. */
function repackQ4_1(src: Uint8Array, rows: number, cols: number): PackedMatrix | undefined {
  const nb = (rows * cols) / 32;
  const scales = new Float32Array(nb);
  const zeroPoints = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const d = half(src, 20 * b);
    const m = half(src, 20 * b + 2);
    if (d === 0 && m !== 0) return undefined;
    scales[b] = d;
    zeroPoints[b] = d === 0 ? 0 : -m / d;
  }
  const data = packNibbles(rows * cols, (e) => {
    const at = 20 * (e >> 5) + 4;
    const j = e & 31;
    return j < 16 ? src[at + j]! & 15 : src[at + j - 16]! >> 4;
  });
  return { kind: 'nbits', rows, cols, bits: 4, blockSize: 32, data, scales, zeroPoints };
}

function dequantizeQ4_1(src: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const at = 20 * (e >> 5);
    const j = e & 31;
    const q = j < 16 ? src[at + 4 + j]! & 15 : src[at + 4 + j - 16]! >> 4;
    y[e] = f(f(q * half(src, at)) + half(src, at + 2));
  }
  return y;
}

function dequantizeQ5_1(src: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const at = 24 * (e >> 5);
    y[e] = f(f(q5(src, at + 4, at + 8, e & 31) * half(src, at)) + half(src, at + 2));
  }
  return y;
}

/** kvalues_iq4nl (ggml-common.h). */
const KVALUES_IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** IQ4_NL (32 per 18-byte block) and IQ4_XS (256 per 136 bytes, 8 sub-blocks with 6-bit scales) as 8-bit blocks of 32. */
function repackIq4(src: Uint8Array, rows: number, cols: number, type: 'IQ4_NL' | 'IQ4_XS'): PackedMatrix {
  const nb = (rows * cols) / 32;
  const data = new Uint8Array(nb * 32);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    let qs: number;
    if (type === 'IQ4_NL') {
      scales[b] = half(src, 18 * b);
      qs = 18 * b + 2;
    } else {
      const at = 136 * (b >> 3);
      const ib = b & 7;
      const ls = ((src[at + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 15) | (((src[at + 2 + (ib >> 2)]! >> (2 * (ib & 3))) & 3) << 4);
      scales[b] = half(src, at) * (ls - 32);
      qs = at + 8 + 16 * ib;
    }
    for (let j = 0; j < 16; j++) {
      data[32 * b + j] = KVALUES_IQ4NL[src[qs + j]! & 15]! + 128;
      data[32 * b + j + 16] = KVALUES_IQ4NL[src[qs + j]! >> 4]! + 128;
    }
  }
  return { kind: 'nbits', rows, cols, bits: 8, blockSize: 32, data, scales };
}

/**
 * Element e (0..255) of a Q2_K / Q3_K block as dequantize_row_q2_K / _q3_K walk it: half n, shift s, group
 * g, l: the 2-bit field at bits 2s of qs[32n + 16g + l] and the scale index 8n + 2s + g.
 */
function k2Field(src: Uint8Array, qs: number, e: number): { q: number; is: number; n: number; s: number; g: number; l: number } {
  const n = e >> 7, s = (e >> 5) & 3, g = (e >> 4) & 1, l = e & 15;
  return { q: (src[qs + 32 * n + 16 * g + l]! >> (2 * s)) & 3, is: 8 * n + 2 * s + g, n, s, g, l };
}

/** Q2_K: value = d·sc·q − dmin·m per 16 values = (q − dmin·m/(d·sc))·d·sc; undefined where d·sc = 0 but dmin·m ≠ 0. */
function repackQ2_K(src: Uint8Array, rows: number, cols: number): PackedMatrix | undefined {
  const nb = (rows * cols) / 256;
  const scales = new Float32Array(nb * 16);
  const zeroPoints = new Float32Array(nb * 16);
  for (let b = 0; b < nb; b++) {
    const at = 84 * b;
    const d = half(src, at + 80);
    const dmin = half(src, at + 82);
    for (let i = 0; i < 16; i++) {
      const scale = d * (src[at + i]! & 15);
      const min = dmin * (src[at + i]! >> 4);
      if (scale === 0 && min !== 0) return undefined;
      scales[16 * b + i] = scale;
      zeroPoints[16 * b + i] = scale === 0 ? 0 : min / scale;
    }
  }
  // MatMulNBits blocks of 16 run in element order; block i of a Q2_K block is scale index i (is = 8n + 2s + g).
  const data = packNibbles(rows * cols, (e) => k2Field(src, 84 * (e >> 8) + 16, e & 255).q);
  return { kind: 'nbits', rows, cols, bits: 4, blockSize: 16, data, scales, zeroPoints };
}

function dequantizeQ2_K(src: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const at = 84 * (e >> 8);
    const { q, is } = k2Field(src, at + 16, e & 255);
    const sc = src[at + is]!;
    y[e] = f(f(f(half(src, at + 80) * (sc & 15)) * q) - f(half(src, at + 82) * (sc >> 4)));
  }
  return y;
}

/** The 6-bit Q3_K scale `i` from the 12 scale bytes at `at` (low nibble i/8 of byte i%8, 2 high bits from byte 8 + i%4). */
function q3kScale(src: Uint8Array, at: number, i: number): number {
  return ((src[at + (i & 7)]! >> (4 * (i >> 3))) & 15) | (((src[at + 8 + (i & 3)]! >> (2 * (i >> 2))) & 3) << 4);
}

/** Q3_K: q3 = q2 − 4·(1 − hmask bit) ∈ [−4, 3] → u = q3 + 8 with the default zero point 8, scale d·(sc − 32). */
function repackQ3_K(src: Uint8Array, rows: number, cols: number): PackedMatrix {
  const nb = (rows * cols) / 256;
  const scales = new Float32Array(nb * 16);
  for (let b = 0; b < nb; b++) {
    const d = half(src, 110 * b + 108);
    for (let i = 0; i < 16; i++) scales[16 * b + i] = d * (q3kScale(src, 110 * b + 96, i) - 32);
  }
  const data = packNibbles(rows * cols, (e) => {
    const at = 110 * (e >> 8);
    const { q, n, s, g, l } = k2Field(src, at + 32, e & 255);
    const h = (src[at + 16 * g + l]! >> (4 * n + s)) & 1;
    return q - 4 * (1 - h) + 8;
  });
  return { kind: 'nbits', rows, cols, bits: 4, blockSize: 16, data, scales };
}

function dequantizeQ5_K(src: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const at = 176 * (e >> 8);
    const c = (e >> 6) & 3;
    const r = e & 63;
    const sub = 2 * c + (r >> 5);
    const [sc, m] = scaleMinK4(sub, src, at + 4);
    const byte = src[at + 48 + 32 * c + (r & 31)]!;
    const q = (r < 32 ? byte & 15 : byte >> 4) + (((src[at + 16 + (r & 31)]! >> sub) & 1) << 4);
    y[e] = f(f(f(half(src, at) * sc) * q) - f(half(src, at + 2) * m));
  }
  return y;
}

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
 *   F16  → f32 (exact), F32 → f32: a plain MatMul.
 * Other types never get here (openGguf rejects them); exportGgufToOnnx still refuses them by name.
 */
import { ModelFileError } from '../../errors';
import type { GgmlTypeName } from '../../formats/ggml_types';
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

export const REPACKABLE_TYPES: readonly GgmlTypeName[] = ['F32', 'F16', 'Q4_0', 'Q8_0', 'Q4_K', 'Q6_K'];

/** A tensor's GGUF bytes (rows × cols values, cols the row length) in MatMulNBits or float form. */
export function repack(type: string, bytes: Uint8Array, rows: number, cols: number, name = 'tensor'): PackedMatrix {
  switch (type) {
    case 'Q4_0': return repackQ4_0(bytes, rows, cols);
    case 'Q8_0': return repackQ8_0(bytes, rows, cols);
    case 'Q6_K': return repackQ6_K(bytes, rows, cols);
    case 'Q4_K': return repackQ4_K(bytes, rows, cols) ?? { kind: 'float', rows, cols, data: dequantizeQ4_K(bytes, rows, cols) };
    case 'F16': {
      const h = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + rows * cols * 2));
      return { kind: 'float', rows, cols, data: Float32Array.from(h, f16BitsToFloat) };
    }
    case 'F32':
      return { kind: 'float', rows, cols, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + rows * cols * 4)) };
    default:
      throw new ModelFileError('UnsupportedQuantType', `${name} is ${type}, which the onnxruntime backend does not map (supported: ${REPACKABLE_TYPES.join(', ')}); pick a file quantized with one of those`);
  }
}

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

function dequantizeQ4_K(src: Uint8Array, rows: number, cols: number): Float32Array {
  const nb = (rows * cols) / 256;
  const y = new Float32Array(rows * cols);
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

/**
 * Reference (CPU, float64) decoding of the GGUF weight types inpage runs, written from llama.cpp's
 * ggml-common.h block structs and the `dequantize_row_*` functions of ggml-quants.c. Tests compare GPU
 * kernels against this, so it is deliberately plain and shares no code with src/ (not even the f16
 * decoder): a bug in the SDK's helpers cannot hide by appearing on both sides of a comparison.
 */
import { rng } from '../random';

export type QuantType = 'Q4_0' | 'Q8_0' | 'Q4_K' | 'Q6_K' | 'F16' | 'F32';
export const QUANT_TYPES: readonly QuantType[] = ['Q4_0', 'Q8_0', 'Q4_K', 'Q6_K', 'F16', 'F32'];

/** Values per block and bytes per block, from the ggml-common.h structs (static_asserts there). */
export const REFERENCE_BLOCKS: Record<QuantType, { values: number; bytes: number }> = {
  Q4_0: { values: 32, bytes: 18 }, // ggml_half d; uint8_t qs[16]
  Q8_0: { values: 32, bytes: 34 }, // ggml_half d; int8_t qs[32]
  Q4_K: { values: 256, bytes: 144 }, // ggml_half d, dmin; uint8_t scales[12]; uint8_t qs[128]
  Q6_K: { values: 256, bytes: 210 }, // uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d
  F16: { values: 1, bytes: 2 },
  F32: { values: 1, bytes: 4 },
};

/** Bytes of one packed row of `cols` values. */
export function referenceRowBytes(type: QuantType, cols: number): number {
  const { values, bytes } = REFERENCE_BLOCKS[type];
  if (cols % values !== 0) throw new Error(`${type}: cols ${cols} is not a multiple of ${values}`);
  return (cols / values) * bytes;
}

/** IEEE binary16 bits to a number (subnormals, infinities and NaN included). */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function half(bytes: Uint8Array, at: number): number {
  return halfToNumber(bytes[at]! | (bytes[at + 1]! << 8));
}

function int8(byte: number): number {
  return byte >= 128 ? byte - 256 : byte;
}

/** llama.cpp's get_scale_min_k4: the j-th (0..7) 6-bit scale and min of a Q4_K block's 12 scale bytes. */
function scaleMinK4(j: number, q: Uint8Array, at: number): [number, number] {
  if (j < 4) return [q[at + j]! & 63, q[at + j + 4]! & 63];
  const scale = (q[at + j + 4]! & 0xf) | ((q[at + j - 4]! >> 6) << 4);
  const min = (q[at + j + 4]! >> 4) | ((q[at + j]! >> 6) << 4);
  return [scale, min];
}

/** One row of `cols` values decoded from its packed bytes (which start at `bytes[0]`). */
export function dequantizeRow(type: QuantType, bytes: Uint8Array, cols: number): Float64Array {
  const need = referenceRowBytes(type, cols);
  if (bytes.length < need) throw new Error(`${type}: a row of ${cols} needs ${need} bytes, got ${bytes.length}`);
  const y = new Float64Array(cols);
  const nb = cols / REFERENCE_BLOCKS[type].values;
  switch (type) {
    case 'F32': {
      const view = new DataView(bytes.buffer, bytes.byteOffset, need);
      for (let i = 0; i < cols; i++) y[i] = view.getFloat32(4 * i, true);
      return y;
    }
    case 'F16':
      for (let i = 0; i < cols; i++) y[i] = half(bytes, 2 * i);
      return y;
    case 'Q4_0':
      for (let i = 0; i < nb; i++) {
        const b = 18 * i;
        const d = half(bytes, b);
        for (let j = 0; j < 16; j++) {
          const q = bytes[b + 2 + j]!;
          y[32 * i + j] = d * ((q & 0xf) - 8);
          y[32 * i + j + 16] = d * ((q >> 4) - 8);
        }
      }
      return y;
    case 'Q8_0':
      for (let i = 0; i < nb; i++) {
        const b = 34 * i;
        const d = half(bytes, b);
        for (let j = 0; j < 32; j++) y[32 * i + j] = d * int8(bytes[b + 2 + j]!);
      }
      return y;
    case 'Q4_K':
      for (let i = 0; i < nb; i++) {
        const b = 144 * i;
        const d = half(bytes, b);
        const dmin = half(bytes, b + 2);
        // Four 64-value chunks; chunk c uses sub-blocks 2c (low nibbles) and 2c+1 (high nibbles) of qs[32c..32c+31].
        for (let c = 0; c < 4; c++) {
          const [sc1, m1] = scaleMinK4(2 * c, bytes, b + 4);
          const [sc2, m2] = scaleMinK4(2 * c + 1, bytes, b + 4);
          const qs = b + 16 + 32 * c;
          const out = 256 * i + 64 * c;
          for (let l = 0; l < 32; l++) {
            y[out + l] = d * sc1 * (bytes[qs + l]! & 0xf) - dmin * m1;
            y[out + 32 + l] = d * sc2 * (bytes[qs + l]! >> 4) - dmin * m2;
          }
        }
      }
      return y;
    case 'Q6_K':
      for (let i = 0; i < nb; i++) {
        const b = 210 * i;
        const d = half(bytes, b + 208);
        // Two 128-value halves; in half n, ql advances by 64, qh by 32 and scales by 8 (as in dequantize_row_q6_K).
        for (let n = 0; n < 2; n++) {
          const ql = b + 64 * n;
          const qh = b + 128 + 32 * n;
          const sc = b + 192 + 8 * n;
          const out = 256 * i + 128 * n;
          for (let l = 0; l < 32; l++) {
            const is = Math.floor(l / 16);
            const h = bytes[qh + l]!;
            const q1 = ((bytes[ql + l]! & 0xf) | (((h >> 0) & 3) << 4)) - 32;
            const q2 = ((bytes[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
            const q3 = ((bytes[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
            const q4 = ((bytes[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
            y[out + l] = d * int8(bytes[sc + is]!) * q1;
            y[out + l + 32] = d * int8(bytes[sc + is + 2]!) * q2;
            y[out + l + 64] = d * int8(bytes[sc + is + 4]!) * q3;
            y[out + l + 96] = d * int8(bytes[sc + is + 6]!) * q4;
          }
        }
      }
      return y;
  }
}

/** A rows × cols matrix decoded row by row, row-major. */
export function dequantizeMatrix(type: QuantType, bytes: Uint8Array, rows: number, cols: number): Float64Array {
  const rb = referenceRowBytes(type, cols);
  if (bytes.length < rows * rb) throw new Error(`${type}: ${rows}×${cols} needs ${rows * rb} bytes, got ${bytes.length}`);
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(dequantizeRow(type, bytes.subarray(r * rb, (r + 1) * rb), cols), r * cols);
  return out;
}

/**
 * Random f16 bits with magnitude in [2^(minExp), 2^(maxExp+1)) (normal numbers only: exactly representable,
 * so no encoder is needed), negative with probability `negative`.
 */
function randomHalfBits(r: () => number, minExp: number, maxExp: number, negative: number): number {
  const exponent = minExp + Math.floor(r() * (maxExp - minExp + 1)) + 15;
  const mantissa = Math.floor(r() * 1024);
  return (r() < negative ? 0x8000 : 0) | (exponent << 10) | mantissa;
}

function putHalf(out: Uint8Array, at: number, bits: number): void {
  out[at] = bits & 0xff;
  out[at + 1] = bits >> 8;
}

/**
 * A valid packed rows × cols matrix: every quant bit random, and every f16 scale field a finite value of
 * magnitude about 1e-3..1e-1 (2^-10..2^-3), so products stay well-conditioned. Signs follow what llama.cpp's
 * quantizers can produce: Q4_0 (d = max/-8) and Q6_K (d = 1/iscale, iscale = -128/max_scale) have d of either
 * sign; Q8_0 (amax/127) and Q4_K (d, dmin from non-negative maxima) are non-negative. F16 values are random
 * halves in ±[1/8, 1); F32 values uniform in [-1, 1).
 */
export function randomQuantMatrix(type: QuantType, rows: number, cols: number, seed: number): Uint8Array {
  const r = rng(seed);
  const total = rows * referenceRowBytes(type, cols);
  const out = new Uint8Array(total);
  if (type === 'F32') {
    const view = new DataView(out.buffer);
    for (let i = 0; i < rows * cols; i++) view.setFloat32(4 * i, r() * 2 - 1, true);
    return out;
  }
  if (type === 'F16') {
    for (let i = 0; i < rows * cols; i++) putHalf(out, 2 * i, randomHalfBits(r, -3, -1, 0.5));
    return out;
  }
  for (let i = 0; i < total; i++) out[i] = Math.floor(r() * 256);
  const { bytes: blockBytes } = REFERENCE_BLOCKS[type];
  const scale = () => randomHalfBits(r, -10, -4, 0);
  const signedScale = () => randomHalfBits(r, -10, -4, 0.5);
  for (let b = 0; b < total; b += blockBytes) {
    if (type === 'Q4_0') putHalf(out, b, signedScale());
    else if (type === 'Q8_0') putHalf(out, b, scale());
    else if (type === 'Q4_K') {
      putHalf(out, b, scale());
      putHalf(out, b + 2, scale());
    } else putHalf(out, b + 208, signedScale());
  }
  return out;
}

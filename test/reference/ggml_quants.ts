/**
 * Reference (CPU, float64) decoding of the GGUF weight types inpage runs, written from llama.cpp's
 * ggml-common.h block structs and the `dequantize_row_*` functions of ggml-quants.c. Tests compare GPU
 * kernels against this, so it is deliberately plain and shares no code with src/ (not even the f16
 * decoder): a bug in the SDK's helpers cannot hide by appearing on both sides of a comparison.
 */
import { rng } from '../random';

export type QuantType =
  | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'IQ4_NL'
  | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'IQ4_XS'
  | 'F16' | 'BF16' | 'F32';
export const QUANT_TYPES: readonly QuantType[] = [
  'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'IQ4_NL', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_XS', 'F16', 'BF16', 'F32',
];

/** Values per block and bytes per block, from the ggml-common.h structs (static_asserts there). */
export const REFERENCE_BLOCKS: Record<QuantType, { values: number; bytes: number }> = {
  Q4_0: { values: 32, bytes: 18 }, // ggml_half d; uint8_t qs[16]
  Q4_1: { values: 32, bytes: 20 }, // ggml_half d, m; uint8_t qs[16]
  Q5_0: { values: 32, bytes: 22 }, // ggml_half d; uint8_t qh[4]; uint8_t qs[16]
  Q5_1: { values: 32, bytes: 24 }, // ggml_half d, m; uint8_t qh[4]; uint8_t qs[16]
  Q8_0: { values: 32, bytes: 34 }, // ggml_half d; int8_t qs[32]
  IQ4_NL: { values: 32, bytes: 18 }, // ggml_half d; uint8_t qs[16]
  Q2_K: { values: 256, bytes: 84 }, // uint8_t scales[16]; uint8_t qs[64]; ggml_half d, dmin
  Q3_K: { values: 256, bytes: 110 }, // uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; ggml_half d
  Q4_K: { values: 256, bytes: 144 }, // ggml_half d, dmin; uint8_t scales[12]; uint8_t qs[128]
  Q5_K: { values: 256, bytes: 176 }, // ggml_half d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]
  Q6_K: { values: 256, bytes: 210 }, // uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d
  IQ4_XS: { values: 256, bytes: 136 }, // ggml_half d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]
  F16: { values: 1, bytes: 2 },
  BF16: { values: 1, bytes: 2 },
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

/** ggml_bf16_t bits to a number: the top half of an IEEE binary32. */
function bf16(bytes: Uint8Array, at: number): number {
  const f = new Float32Array(new Uint32Array([(bytes[at]! | (bytes[at + 1]! << 8)) << 16]).buffer);
  return f[0]!;
}

/** kvalues_iq4nl of ggml-common.h: the 16 non-uniform levels of IQ4_NL and IQ4_XS. */
const KVALUES_IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

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

/**
 * The sixteen 6-bit Q3_K scales (not yet biased by 32) from the 12 scale bytes at `at`, as dequantize_row_q3_K
 * unpacks them: little-endian words a0, a1, tmp; scales 0..3 = a0 & 0x0f0f0f0f | ((tmp >> 0) & 0x03030303) << 4,
 * 4..7 from a1 and tmp >> 2, 8..11 from a0 >> 4 and tmp >> 4, 12..15 from a1 >> 4 and tmp >> 6.
 */
function q3kScales(q: Uint8Array, at: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < 16; s++) {
    const lowByte = q[at + (s % 8)]!;
    const low = s < 8 ? lowByte & 0xf : lowByte >> 4;
    const high = (q[at + 8 + (s % 4)]! >> (2 * Math.floor(s / 4))) & 3;
    out.push(low | (high << 4));
  }
  return out;
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
    case 'BF16':
      for (let i = 0; i < cols; i++) y[i] = bf16(bytes, 2 * i);
      return y;
    case 'Q4_1':
      // dequantize_row_q4_1: x*d + m.
      for (let i = 0; i < nb; i++) {
        const b = 20 * i;
        const d = half(bytes, b);
        const m = half(bytes, b + 2);
        for (let j = 0; j < 16; j++) {
          const q = bytes[b + 4 + j]!;
          y[32 * i + j] = (q & 0xf) * d + m;
          y[32 * i + j + 16] = (q >> 4) * d + m;
        }
      }
      return y;
    case 'Q5_0':
    case 'Q5_1': {
      // dequantize_row_q5_0 / _1: the 5th bit of value j is bit j of the 32-bit qh, of value j+16 bit j+16.
      const withMin = type === 'Q5_1';
      const size = withMin ? 24 : 22;
      for (let i = 0; i < nb; i++) {
        const b = size * i;
        const d = half(bytes, b);
        const m = withMin ? half(bytes, b + 2) : 0;
        const h = b + (withMin ? 4 : 2);
        const qh = (bytes[h]! | (bytes[h + 1]! << 8) | (bytes[h + 2]! << 16) | (bytes[h + 3]! << 24)) >>> 0;
        for (let j = 0; j < 16; j++) {
          const q = bytes[h + 4 + j]!;
          const x0 = (q & 0xf) | (((qh >>> j) & 1) << 4);
          const x1 = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
          y[32 * i + j] = withMin ? x0 * d + m : (x0 - 16) * d;
          y[32 * i + j + 16] = withMin ? x1 * d + m : (x1 - 16) * d;
        }
      }
      return y;
    }
    case 'IQ4_NL':
      for (let i = 0; i < nb; i++) {
        const b = 18 * i;
        const d = half(bytes, b);
        for (let j = 0; j < 16; j++) {
          const q = bytes[b + 2 + j]!;
          y[32 * i + j] = d * KVALUES_IQ4NL[q & 0xf]!;
          y[32 * i + j + 16] = d * KVALUES_IQ4NL[q >> 4]!;
        }
      }
      return y;
    case 'IQ4_XS':
      for (let i = 0; i < nb; i++) {
        const b = 136 * i;
        const d = half(bytes, b);
        const scalesH = bytes[b + 2]! | (bytes[b + 3]! << 8);
        for (let ib = 0; ib < 8; ib++) {
          const ls = ((bytes[b + 4 + (ib >> 1)]! >> (4 * (ib % 2))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
          const dl = d * (ls - 32);
          const qs = b + 8 + 16 * ib;
          for (let j = 0; j < 16; j++) {
            y[256 * i + 32 * ib + j] = dl * KVALUES_IQ4NL[bytes[qs + j]! & 0xf]!;
            y[256 * i + 32 * ib + j + 16] = dl * KVALUES_IQ4NL[bytes[qs + j]! >> 4]!;
          }
        }
      }
      return y;
    case 'Q2_K':
      // dequantize_row_q2_K: two 128-value halves; in each, 4 shifts × 2 groups of 16 values, scale byte
      // is++ per group (low nibble scale, high nibble min); qs advances 32 per half.
      for (let i = 0; i < nb; i++) {
        const b = 84 * i;
        const d = half(bytes, b + 80);
        const dmin = half(bytes, b + 82);
        let is = 0;
        let out = 256 * i;
        for (let n = 0; n < 2; n++) {
          const q = b + 16 + 32 * n;
          for (let j = 0; j < 4; j++) {
            const shift = 2 * j;
            for (let g = 0; g < 2; g++) {
              const sc = bytes[b + is++]!;
              const dl = d * (sc & 0xf);
              const ml = dmin * (sc >> 4);
              for (let l = 0; l < 16; l++) y[out++] = dl * ((bytes[q + 16 * g + l]! >> shift) & 3) - ml;
            }
          }
        }
      }
      return y;
    case 'Q3_K':
      // dequantize_row_q3_K: 16 6-bit scales unpacked from 12 bytes (the aux[] shuffle), biased by 32;
      // q = 2 low bits from qs, minus 4 where the hmask bit is clear.
      for (let i = 0; i < nb; i++) {
        const b = 110 * i;
        const d = half(bytes, b + 108);
        const sc = q3kScales(bytes, b + 96);
        let is = 0;
        let out = 256 * i;
        let m = 1;
        for (let n = 0; n < 2; n++) {
          const q = b + 32 + 32 * n;
          for (let j = 0; j < 4; j++) {
            const shift = 2 * j;
            for (let g = 0; g < 2; g++) {
              const dl = d * (sc[is++]! - 32);
              for (let l = 0; l < 16; l++) {
                const hm = bytes[b + 16 * g + l]! & m;
                y[out++] = dl * (((bytes[q + 16 * g + l]! >> shift) & 3) - (hm ? 0 : 4));
              }
            }
            m <<= 1;
          }
        }
      }
      return y;
    case 'Q5_K':
      // dequantize_row_q5_K: as Q4_K, plus a 5th bit from qh (bit 2c for chunk c's low nibbles, 2c+1 for its high).
      for (let i = 0; i < nb; i++) {
        const b = 176 * i;
        const d = half(bytes, b);
        const dmin = half(bytes, b + 2);
        for (let c = 0; c < 4; c++) {
          const [sc1, m1] = scaleMinK4(2 * c, bytes, b + 4);
          const [sc2, m2] = scaleMinK4(2 * c + 1, bytes, b + 4);
          const ql = b + 48 + 32 * c;
          const out = 256 * i + 64 * c;
          for (let l = 0; l < 32; l++) {
            const qh = bytes[b + 16 + l]!;
            y[out + l] = d * sc1 * ((bytes[ql + l]! & 0xf) + ((qh >> (2 * c)) & 1 ? 16 : 0)) - dmin * m1;
            y[out + 32 + l] = d * sc2 * ((bytes[ql + l]! >> 4) + ((qh >> (2 * c + 1)) & 1 ? 16 : 0)) - dmin * m2;
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
 * sign; Q8_0 (amax/127) and Q4_K (d, dmin from non-negative maxima) are non-negative (the table in the body
 * lists every type). F16 and BF16 values are random in ±[1/8, 1); F32 values uniform in [-1, 1).
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
  if (type === 'BF16') {
    // Sign, exponent 2^-3..2^-1 (biased 124..126), 7 random mantissa bits.
    for (let i = 0; i < rows * cols; i++) {
      const bits = (r() < 0.5 ? 0x8000 : 0) | ((124 + Math.floor(r() * 3)) << 7) | Math.floor(r() * 128);
      putHalf(out, 2 * i, bits);
    }
    return out;
  }
  for (let i = 0; i < total; i++) out[i] = Math.floor(r() * 256);
  const { bytes: blockBytes } = REFERENCE_BLOCKS[type];
  // Where each type keeps its f16 scale fields, and whether llama.cpp's quantizer can make them negative.
  // IQ4_XS multiplies d by a 6-bit scale and a level up to 127: its d is kept 2^4 smaller so values stay moderate.
  const fields: Record<Exclude<QuantType, 'F16' | 'BF16' | 'F32'>, [offset: number, signed: boolean, smaller?: number][]> = {
    Q4_0: [[0, true]],
    Q4_1: [[0, false], [2, true]], // d = (max − min)/15 ≥ 0; m = min
    Q5_0: [[0, true]],
    Q5_1: [[0, false], [2, true]],
    Q8_0: [[0, false]],
    IQ4_NL: [[0, true]],
    Q2_K: [[80, false], [82, false]],
    Q3_K: [[108, true]],
    Q4_K: [[0, false], [2, false]],
    Q5_K: [[0, false], [2, false]],
    Q6_K: [[208, true]],
    IQ4_XS: [[0, true, 4]],
  };
  for (let b = 0; b < total; b += blockBytes) {
    for (const [offset, signed, smaller = 0] of fields[type]) putHalf(out, b + offset, randomHalfBits(r, -10 - smaller, -4 - smaller, signed ? 0.5 : 0));
  }
  return out;
}

// Shared include: reading GGUF weight blocks exactly as llama.cpp lays them out (ggml-common.h), from a
// storage buffer the including kernel declares as `weights: array<u32>`. Blocks are not 4-byte aligned
// (Q4_0 is 18 bytes, Q5_0 22, Q8_0 34, Q3_K 110, Q6_K 210), so reads are byte-addressed: the bytes are the
// file's bytes, uploaded unchanged, and no dequantized copy of a weight ever exists on the GPU.
//
// `dequant4_<type>(row, k)` decodes elements k..k+3 (k a multiple of 4) of the row starting at byte `row`:
// the prefill matmul and the embedding lookup bind their generic `dequant4` to one of these. They are the
// reference-shaped decoders (clear over fast); the decode matvec kernels use faster forms of the same
// layouts (kernels/matvec_<type>.wgsl), and the tests check both against a CPU dequantizer.

// Byte `b` of the weight buffer.
fn w_u8(b: u32) -> u32 {
  return (weights[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
}

// Four bytes starting at any byte offset `b`, little-endian (two word loads, funnel-shifted).
fn w_u32(b: u32) -> u32 {
  let shift = (b & 3u) * 8u;
  let lo = weights[b >> 2u];
  if (shift == 0u) {
    return lo;
  }
  let hi = weights[(b >> 2u) + 1u];
  return (lo >> shift) | (hi << (32u - shift));
}

// The f16 at an even byte offset `b`, as f32 (unpack2x16float needs no shader-f16).
fn w_f16(b: u32) -> f32 {
  let word = weights[b >> 2u];
  return unpack2x16float(select(word, word >> 16u, (b & 2u) != 0u)).x;
}

// The four signed bytes of `v` as i32 (sign-extended).
fn i8x4(v: u32) -> vec4<i32> {
  return vec4<i32>(bitcast<i32>(v << 24u), bitcast<i32>(v << 16u), bitcast<i32>(v << 8u), bitcast<i32>(v)) >> vec4<u32>(24u);
}

// The four bytes of `v` as u32 lanes.
fn u8x4(v: u32) -> vec4<u32> {
  return (vec4<u32>(v) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu);
}

// The 4 bits of `bits` starting at bit `first`, one per lane.
fn bits4(bits: u32, first: u32) -> vec4<u32> {
  return (vec4<u32>(bits) >> (vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u))) & vec4<u32>(1u);
}

// Element j (0..31) of a 32-value block's 16 nibble bytes starting at byte `qs`: low nibbles are values
// 0..15, high nibbles 16..31 (the order of Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, and of IQ4_XS sub-blocks).
fn nibbles4(qs: u32, j: u32) -> vec4<u32> {
  let q = u8x4(w_u32(qs + (j % 16u)));
  return select(q & vec4<u32>(15u), q >> vec4<u32>(4u), j >= 16u);
}

// kvalues_iq4nl of ggml-common.h.
const KVALUES_IQ4NL = array<f32, 16>(-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0, 1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);

fn iq4_values(n: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(KVALUES_IQ4NL[n.x], KVALUES_IQ4NL[n.y], KVALUES_IQ4NL[n.z], KVALUES_IQ4NL[n.w]);
}

// ---- Per-type element decoding: elements k..k+3 (k a multiple of 4) of the row starting at byte `row`.

// Q4_0: 32 values in 18 bytes: f16 d, 16 bytes of nibbles; value j<16 = d*((qs[j]&15)-8), j+16 uses >>4.
fn dequant4_q4_0(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 32u) * 18u;
  return w_f16(block) * (vec4<f32>(nibbles4(block + 2u, k % 32u)) - 8.0);
}

// Q4_1: 32 values in 20 bytes: f16 d, f16 m, 16 bytes of nibbles; value = d*q + m.
fn dequant4_q4_1(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 32u) * 20u;
  return w_f16(block) * vec4<f32>(nibbles4(block + 4u, k % 32u)) + w_f16(block + 2u);
}

// Q5_0: 32 values in 22 bytes: f16 d, u32 qh (bit j = 5th bit of value j), 16 bytes of nibbles; value = d*(q-16).
fn dequant4_q5_0(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 32u) * 22u;
  let j = k % 32u;
  let q = nibbles4(block + 6u, j) | (bits4(w_u32(block + 2u), j) << vec4<u32>(4u));
  return w_f16(block) * (vec4<f32>(q) - 16.0);
}

// Q5_1: 32 values in 24 bytes: f16 d, f16 m, u32 qh, 16 bytes of nibbles; value = d*q + m.
fn dequant4_q5_1(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 32u) * 24u;
  let j = k % 32u;
  let q = nibbles4(block + 8u, j) | (bits4(w_u32(block + 4u), j) << vec4<u32>(4u));
  return w_f16(block) * vec4<f32>(q) + w_f16(block + 2u);
}

// IQ4_NL: 32 values in 18 bytes: f16 d, 16 bytes of 4-bit indices into kvalues_iq4nl; value = d*kvalues[q].
fn dequant4_iq4_nl(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 32u) * 18u;
  return w_f16(block) * iq4_values(nibbles4(block + 2u, k % 32u));
}

// Q8_0: 32 values in 34 bytes: f16 d, 32 signed bytes; value = d*q.
fn dequant4_q8_0(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 32u) * 34u;
  return w_f16(block) * vec4<f32>(i8x4(w_u32(block + 2u + (k % 32u))));
}

// Q4_K: 256 values in 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
// Sub-block s (32 values) has scale sc and min m (get_scale_min_k4); value = d*sc*q - dmin*m.
fn q4_k_scale_min(block: u32, s: u32) -> vec2<f32> {
  let sc = block + 4u;
  if (s < 4u) {
    return vec2<f32>(f32(w_u8(sc + s) & 63u), f32(w_u8(sc + s + 4u) & 63u));
  }
  let a = w_u8(sc + s + 4u);
  let scale = (a & 0xfu) | ((w_u8(sc + s - 4u) >> 6u) << 4u);
  let mn = (a >> 4u) | ((w_u8(sc + s) >> 6u) << 4u);
  return vec2<f32>(f32(scale), f32(mn));
}

fn dequant4_q4_k(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 256u) * 144u;
  let j = k % 256u;
  let chunk = j / 64u;
  let l = j % 64u;
  let s = 2u * chunk + select(0u, 1u, l >= 32u);
  let q = u8x4(w_u32(block + 16u + 32u * chunk + (l % 32u)));
  let nib = select(q & vec4<u32>(15u), q >> vec4<u32>(4u), l >= 32u);
  let sm = q4_k_scale_min(block, s);
  return w_f16(block) * sm.x * vec4<f32>(nib) - w_f16(block + 2u) * sm.y;
}

// Q5_K: 256 values in 176 bytes: f16 d, f16 dmin, 12 scale bytes (as Q4_K), qh[32], qs[128]. As Q4_K, with
// a 5th bit: bit s (the sub-block) of qh[l], l = j % 32.
fn dequant4_q5_k(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 256u) * 176u;
  let j = k % 256u;
  let chunk = j / 64u;
  let l = j % 64u;
  let s = 2u * chunk + select(0u, 1u, l >= 32u);
  let q = u8x4(w_u32(block + 48u + 32u * chunk + (l % 32u)));
  let nib = select(q & vec4<u32>(15u), q >> vec4<u32>(4u), l >= 32u);
  let high = (u8x4(w_u32(block + 16u + (l % 32u))) >> vec4<u32>(s)) & vec4<u32>(1u);
  let sm = q4_k_scale_min(block, s);
  return w_f16(block) * sm.x * vec4<f32>(nib | (high << vec4<u32>(4u))) - w_f16(block + 2u) * sm.y;
}

// Q2_K: 256 values in 84 bytes: scales[16] (low nibble scale, high nibble min), qs[64], f16 d, f16 dmin.
// Element j: half n = j/128, shift index s = (j%128)/32, group g = (j%32)/16, l = j%16; q = bits 2s of
// qs[32n + 16g + l]; scale byte 8n + 2s + g; value = d*scale*q - dmin*min.
fn dequant4_q2_k(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 256u) * 84u;
  let j = k % 256u;
  let n = j / 128u;
  let s = (j % 128u) / 32u;
  let g = (j % 32u) / 16u;
  let q = (u8x4(w_u32(block + 16u + 32u * n + 16u * g + (j % 16u))) >> vec4<u32>(2u * s)) & vec4<u32>(3u);
  let sc = w_u8(block + 8u * n + 2u * s + g);
  return w_f16(block + 80u) * f32(sc & 15u) * vec4<f32>(q) - w_f16(block + 82u) * f32(sc >> 4u);
}

// Q3_K: 256 values in 110 bytes: hmask[32], qs[64], scales[12], f16 d. Element j (n, s, g, l as Q2_K): q =
// bits 2s of qs[32n + 16g + l] minus 4 where bit 4n + s of hmask[16g + l] is clear; 6-bit scale i = 8n + 2s + g
// from nibble i/8 of scales[i%8] and bits 2(i/4) of scales[8 + i%4]; value = d*(scale - 32)*q.
fn dequant4_q3_k(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 256u) * 110u;
  let j = k % 256u;
  let n = j / 128u;
  let s = (j % 128u) / 32u;
  let g = (j % 32u) / 16u;
  let l = j % 16u;
  let q = (u8x4(w_u32(block + 32u + 32u * n + 16u * g + l)) >> vec4<u32>(2u * s)) & vec4<u32>(3u);
  let h = (u8x4(w_u32(block + 16u * g + l)) >> vec4<u32>(4u * n + s)) & vec4<u32>(1u);
  let i = 8u * n + 2u * s + g;
  let scale = ((w_u8(block + 96u + i % 8u) >> (4u * (i / 8u))) & 15u) | (((w_u8(block + 104u + i % 4u) >> (2u * (i / 4u))) & 3u) << 4u);
  return w_f16(block + 108u) * (f32(scale) - 32.0) * (vec4<f32>(q) - 4.0 + 4.0 * vec4<f32>(h));
}

// IQ4_XS: 256 values in 136 bytes: f16 d, u16 scales_h, scales_l[4], qs[128]. Sub-block ib = j/32 has the
// 6-bit scale (nibble ib of scales_l) | (bits 2ib of scales_h) << 4 and is an IQ4_NL block with d*(ls - 32).
fn dequant4_iq4_xs(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 256u) * 136u;
  let j = k % 256u;
  let ib = j / 32u;
  let ls = ((w_u32(block + 4u) >> (4u * ib)) & 15u) | (((w_u32(block) >> (16u + 2u * ib)) & 3u) << 4u);
  return w_f16(block) * (f32(ls) - 32.0) * iq4_values(nibbles4(block + 8u + 16u * ib, j % 32u));
}

// Q6_K: 256 values in 210 bytes: ql[128] low nibbles, qh[64] high 2-bit pairs, i8 scales[16], f16 d.
// Element j: half h = j/128, quarter g = (j%128)/32, l = j%32 (dequantize_row_q6_K's interleaving).
fn dequant4_q6_k(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 256u) * 210u;
  let j = k % 256u;
  let h = j / 128u;
  let g = (j % 128u) / 32u;
  let l = j % 32u;
  let ql = u8x4(w_u32(block + 64u * h + l + (g & 1u) * 32u));
  let lo = select(ql & vec4<u32>(15u), ql >> vec4<u32>(4u), g >= 2u);
  let qh = (u8x4(w_u32(block + 128u + 32u * h + l)) >> vec4<u32>(2u * g)) & vec4<u32>(3u);
  let q = vec4<i32>(lo | (qh << vec4<u32>(4u))) - vec4<i32>(32);
  let scale = f32(i8x4(w_u8(block + 192u + 8u * h + l / 16u + 2u * g)).x);
  return w_f16(block + 208u) * scale * vec4<f32>(q);
}

// F16, BF16 and F32: plain little-endian values (BF16 is the top half of an f32).
fn dequant4_f16(row: u32, k: u32) -> vec4<f32> {
  let b = row + 2u * k;
  return vec4<f32>(unpack2x16float(w_u32(b)), unpack2x16float(w_u32(b + 4u)));
}

fn dequant4_bf16(row: u32, k: u32) -> vec4<f32> {
  let b = row + 2u * k;
  let lo = w_u32(b);
  let hi = w_u32(b + 4u);
  return bitcast<vec4<f32>>(vec4<u32>(lo << 16u, lo & 0xffff0000u, hi << 16u, hi & 0xffff0000u));
}

fn dequant4_f32(row: u32, k: u32) -> vec4<f32> {
  let b = row + 4u * k;
  return bitcast<vec4<f32>>(vec4<u32>(w_u32(b), w_u32(b + 4u), w_u32(b + 8u), w_u32(b + 12u)));
}

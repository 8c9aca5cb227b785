// Shared include: reading GGUF weight blocks exactly as llama.cpp lays them out (ggml-common.h), from a
// storage buffer the including kernel declares as `weights: array<u32>`. Blocks are not 4-byte aligned
// (Q4_0 is 18 bytes, Q8_0 34, Q6_K 210), so reads are byte-addressed: the bytes are the file's bytes,
// uploaded unchanged, and no dequantized copy of a weight ever exists on the GPU.

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

// ---- Per-type element decoding: elements k..k+3 (k a multiple of 4) of the row starting at byte `row`.
// These are the reference-shaped decoders (clear over fast); hot kernels may inline faster forms.

// Q4_0: 32 values in 18 bytes: f16 d, 16 bytes of nibbles; value j<16 = d*((qs[j]&15)-8), j+16 uses >>4.
fn dequant4_q4_0(row: u32, k: u32) -> vec4<f32> {
  let block = row + (k / 32u) * 18u;
  let j = k % 32u;
  let d = w_f16(block);
  let q = u8x4(w_u32(block + 2u + (j % 16u)));
  let nib = select(q & vec4<u32>(15u), q >> vec4<u32>(4u), j >= 16u);
  return d * (vec4<f32>(nib) - 8.0);
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

// F16 and F32: plain little-endian values.
fn dequant4_f16(row: u32, k: u32) -> vec4<f32> {
  let b = row + 2u * k;
  return vec4<f32>(unpack2x16float(w_u32(b)), unpack2x16float(w_u32(b + 4u)));
}

fn dequant4_f32(row: u32, k: u32) -> vec4<f32> {
  let b = row + 4u * k;
  return bitcast<vec4<f32>>(vec4<u32>(w_u32(b), w_u32(b + 4u), w_u32(b + 8u), w_u32(b + 12u)));
}

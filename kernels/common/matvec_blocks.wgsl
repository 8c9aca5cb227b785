// Shared include of the matvec kernels of the block types (every quantized GGUF type), after
// common/matvec_rows.wgsl and common/packed_weights.wgsl: the byte helpers their decoders use. The loop along a row is
// common/matvec_loop32.wgsl (32-value blocks) or common/matvec_loop256.wgsl (256-value blocks).

// ---- Reading the bytes of a block. Blocks of 2-mod-4 sizes start at byte 0 or 2 of a word; these read
// from any 2-aligned offset, branch-free (a select is cheaper than a divergent branch). A decoder loads the
// words from the block's first word (block >> 2) once and realigns what it needs: `mis` says the block
// starts 2 bytes into that word. Where `mis` is a constant at the call (common/matvec_loop32.wgsl), the
// compiler drops the select and the unused side.

// The f16 at the block's first byte, from its first word.
fn first_half(word: u32, mis: bool) -> f32 {
  return unpack2x16float(select(word, word >> 16u, mis)).x;
}

// The 4 words that start 2 bytes after the block's first byte, from the words v (from the block's first
// word) and the word after them. Every GGUF block type with a 2-mod-4 size starts with an f16, so this is
// where its data begins.
fn skip_half(v: vec4<u32>, next: u32, mis: bool) -> vec4<u32> {
  return select((v >> vec4<u32>(16u)) | (vec4<u32>(v.yzw, next) * 65536u), vec4<u32>(v.yzw, next), mis);
}

// Words w .. w+3 of the weight binding.
fn words4(w: u32) -> vec4<u32> {
  return vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
}

// The 4 bytes at the 2-aligned byte offset `at`, little-endian.
fn word_at(at: u32) -> u32 {
  let w = at >> 2u;
  return select(weights[w], mid_word(weights[w], weights[min(w + 1u, last_word())]), (at & 2u) != 0u);
}

// The 8 bytes at `at` as two words.
fn words2_at(at: u32) -> vec2<u32> {
  let w = at >> 2u;
  let a = weights[w];
  let b = weights[w + 1u];
  let c = weights[min(w + 2u, last_word())];
  return select(vec2<u32>(a, b), vec2<u32>(mid_word(a, b), mid_word(b, c)), (at & 2u) != 0u);
}

// ---- Turning packed quants into sums against x. On CPU adapters shifts cost about as much as a load and
// unpack4x8unorm converts four bytes for about the price of one shift, so the decoders keep fields in place
// inside their byte where they can and scale the sums instead.

// (Σ lo·xl, 16·Σ hi·xh) / 255 over the 8 nibbles of word q: masking keeps each nibble in place, so the
// high ones come out 16 times too large.
fn nibbles(q: u32, xl: vec4<f32>, xh: vec4<f32>) -> vec2<f32> {
  return vec2<f32>(dot(bytes_unorm(q & 0x0f0f0f0fu), xl), dot(bytes_unorm(q & 0xf0f0f0f0u), xh));
}

// Σ n·x over 16 nibble pairs: 255·(Σ lo·x + Σ hi·x) for the 4 words q of a 32-value block whose low nibbles
// are values 0..15 (against xq[i .. i+3]) and high nibbles values 16..31 (xq[i+4 .. i+7]).
fn nibble_block(q: vec4<u32>, i: u32) -> f32 {
  let s = nibbles(q.x, xq[i], xq[i + 4u]) + nibbles(q.y, xq[i + 1u], xq[i + 5u])
        + nibbles(q.z, xq[i + 2u], xq[i + 6u]) + nibbles(q.w, xq[i + 3u], xq[i + 7u]);
  return 255.0 * (s.x + 0.0625 * s.y);
}

// Σ (q + 128)·x / 255 over the 4 signed bytes of word q: flipping the sign bits maps q ∈ [−128, 127] to the
// unsigned byte q + 128, which unpack4x8unorm converts exactly (snorm would clamp −128).
fn biased(q: u32, xv: vec4<f32>) -> f32 {
  return dot(bytes_unorm(q ^ 0x80808080u), xv);
}

// Σ q·x over a 32-value block of 5-bit values (Q5_0, Q5_1): low 4 bits in qs words q as in Q4_0 (low
// nibbles values 0..15 against xq[i..i+3], high nibbles values 16..31 against xq[i+4..i+7]), the 5th bit of value
// e in bit e of qh. The bits are spread to bit 4 of each byte beside the nibble, then converted once.
fn q5_block(q: vec4<u32>, qh: u32, i: u32) -> f32 {
  let lo = (q & vec4<u32>(0x0f0f0f0fu)) | (vec4<u32>(spread4(qh), spread4(qh >> 4u), spread4(qh >> 8u), spread4(qh >> 12u)) * 16u);
  let hi = ((q >> vec4<u32>(4u)) & vec4<u32>(0x0f0f0f0fu)) | (vec4<u32>(spread4(qh >> 16u), spread4(qh >> 20u), spread4(qh >> 24u), spread4(qh >> 28u)) * 16u);
  return 255.0 * (dot(bytes_unorm(lo.x), xq[i]) + dot(bytes_unorm(lo.y), xq[i + 1u]) + dot(bytes_unorm(lo.z), xq[i + 2u]) + dot(bytes_unorm(lo.w), xq[i + 3u])
                + dot(bytes_unorm(hi.x), xq[i + 4u]) + dot(bytes_unorm(hi.y), xq[i + 5u]) + dot(bytes_unorm(hi.z), xq[i + 6u]) + dot(bytes_unorm(hi.w), xq[i + 7u]));
}

// The scales and mins of sub-blocks 2c and 2c + 1 of a Q4_K / Q5_K block whose first 4 words are `head`
// (d and dmin, then scales[0..3], [4..7], [8..11]), as (scale 2c, scale 2c+1, min 2c, min 2c+1).
// get_scale_min_k4 for the four j of one half of the block at once, as bytes (no shifts):
//   j < 4:  scale = scales[j] & 63,                          min = scales[j+4] & 63
//   j >= 4: scale = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4,  min = (scales[j+4] >> 4) | (scales[j] >> 6) << 4
// For j >= 4, 4·scale = 4·(low nibble) + (top bits in place) fits a byte; the min is the sum of its nibble
// part (16 times too large in place) and its top bits (4 times too large in place).
fn k_scales_mins(head: vec4<u32>, c: u32) -> vec4<f32> {
  let high = c >= 2u;
  let sc4 = bytes_unorm(select(head.y & 0x3f3f3f3fu, (head.w & 0x0f0f0f0fu) * 4u + (head.y & 0xc0c0c0c0u), high)) * select(255.0, 63.75, high);
  let mn4 = bytes_unorm(select(head.z & 0x3f3f3f3fu, head.w & 0xf0f0f0f0u, high)) * select(255.0, 15.9375, high)
          + bytes_unorm(select(0u, head.z & 0xc0c0c0c0u, high)) * 63.75;
  // Sub-blocks 2c and 2c+1 are bytes 2(c & 1) and 2(c & 1) + 1 of these.
  let odd = (c & 1u) != 0u;
  return vec4<f32>(select(sc4.xy, sc4.zw, odd), select(mn4.xy, mn4.zw, odd));
}

// Chunk c (sub-blocks 2c, 2c + 1) of a Q4_K / Q5_K block whose first 4 words are `head`: d·scale·Σq·x −
// dmin·min·Σx, from q·q_scale = 255·(Σq·x of each sub-block) and xs = the chunk's four 16-value sums of x.
// (q_scale is applied to the scalar d: a constant 1 folds away, and a vec2 multiply is saved.)
fn k_chunk(head: vec4<u32>, c: u32, q: vec2<f32>, q_scale: f32, xs: vec4<f32>) -> f32 {
  let sm = k_scales_mins(head, c);
  let dm = unpack2x16float(head.x);
  return dm.x * q_scale * dot(sm.xy, q) - dm.y * dot(sm.zw, vec2<f32>(xs.x + xs.y, xs.z + xs.w));
}

// Bits 0..3 of `b` moved to bit 0 of bytes 0..3 (one multiply instead of four shifts).
fn spread4(b: u32) -> u32 {
  return ((b & 15u) * 0x00204081u) & 0x01010101u;
}

// The levels (kvalues_iq4nl, in packed_weights.wgsl) of the 4 nibble indices held in the bytes of `n`. On
// SwiftShader this lookup in a constant array measured 25% faster than selecting from packed words, and a
// 256-entry table of level pairs only 5% faster than this.
fn iq4_levels(n: u32) -> vec4<f32> {
  return iq4_values(u8x4(n));
}

// Σ kvalue·x over a 32-value IQ4 block whose 4 index words are q (low nibbles: values 0..15 against
// xq[i..i+3], high nibbles: values 16..31 against xq[i+4..i+7]).
fn iq4_block(q: vec4<u32>, i: u32) -> f32 {
  let lo = q & vec4<u32>(0x0f0f0f0fu);
  let hi = (q >> vec4<u32>(4u)) & vec4<u32>(0x0f0f0f0fu);
  return dot(iq4_levels(lo.x), xq[i]) + dot(iq4_levels(lo.y), xq[i + 1u]) + dot(iq4_levels(lo.z), xq[i + 2u]) + dot(iq4_levels(lo.w), xq[i + 3u])
       + dot(iq4_levels(hi.x), xq[i + 4u]) + dot(iq4_levels(hi.y), xq[i + 5u]) + dot(iq4_levels(hi.z), xq[i + 6u]) + dot(iq4_levels(hi.w), xq[i + 7u]);
}

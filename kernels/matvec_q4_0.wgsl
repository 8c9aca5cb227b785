// y[r] = Σ_k W[r,k]·x[k] for a Q4_0 weight shard, one token (decode). Entry point, bindings, row layout and
// the reduction are in common/matvec_rows.wgsl; this file decodes the blocks.
// Q4_0 block (18 bytes): f16 d, then qs[16]; value j = d·((qs[j] & 15) − 8), value j+16 = d·((qs[j] >> 4) − 8).
// A unit is a pair of blocks (64 values, 36 bytes), which starts at the same byte of a word (0 or 2)
// everywhere in a row (see PARITY_ALTERNATES). Either way one block's qs is word-aligned and the other's
// starts 2 bytes into a word: that one is decoded in place against x shifted by 2 elements, which is
// cheaper than realigning the words of 4 rows. No shift instructions at all: on CPU adapters
// (SwiftShader) they cost as much as a load.

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let blocks = params.cols / 32u;
  let row_bytes = blocks * 18u;
  let s = vec4<u32>(row_start(row0, 0u, row_bytes), row_start(row0, 1u, row_bytes), row_start(row0, 2u, row_bytes), row_start(row0, 3u, row_bytes));
  let pairs = blocks / 2u;
  var acc = vec4<f32>(0.0);
  for (var p = lane; p < pairs; p += TPR) {
    // x[64p ..] into xq: block A's low-nibble values, its high-nibble values, then block B's. Σ(q − 8)·x =
    // Σq·x − 8·Σx, so the offset costs one multiply per block and row.
    let xs = vec2<f32>(load_quad(16u * p, 0u) + load_quad(16u * p + 4u, 4u), load_quad(16u * p + 8u, 8u) + load_quad(16u * p + 12u, 12u));
    let at = 36u * p;
#if PARITY_ALTERNATES
    acc += vec4<f32>(pair_dot(s.x + at, xs), pair_dot_mid(s.y + at, xs), pair_dot(s.z + at, xs), pair_dot_mid(s.w + at, xs));
#else
    acc += vec4<f32>(pair_dot(s.x + at, xs), pair_dot(s.y + at, xs), pair_dot(s.z + at, xs), pair_dot(s.w + at, xs));
#endif
  }
  // An odd block count leaves one block per row, for the lane whose turn it would be; rows then alternate.
  if ((blocks & 1u) != 0u && lane == pairs % TPR) {
    let xs = load_quad(16u * pairs, 0u) + load_quad(16u * pairs + 4u, 4u);
    let at = 36u * pairs;
    acc += vec4<f32>(block_dot(s.x + at, xs), block_dot_mid(s.y + at, xs), block_dot(s.z + at, xs), block_dot_mid(s.w + at, xs));
  }
  return acc;
}

// (Σ lo·xl, 16·Σ hi·xh) / 255 for the 8 nibbles of word q: masking keeps each nibble in place, so the high
// ones come out 16 times too large and no shift is needed.
fn nibbles(q: u32, xl: vec4<f32>, xh: vec4<f32>) -> vec2<f32> {
  return vec2<f32>(dot(bytes_unorm(q & 0x0f0f0f0fu), xl), dot(bytes_unorm(q & 0xf0f0f0f0u), xh));
}

// Σ q·x over a block whose 4 qs words are q and whose x is xq[i..i+3] (low) and xq[i+4..i+7] (high).
fn qs_aligned(q: vec4<u32>, i: u32) -> f32 {
  let s = nibbles(q.x, xq[i], xq[i + 4u]) + nibbles(q.y, xq[i + 1u], xq[i + 5u])
        + nibbles(q.z, xq[i + 2u], xq[i + 6u]) + nibbles(q.w, xq[i + 3u], xq[i + 7u]);
  return 255.0 * (s.x + 0.0625 * s.y);
}

// The same for a block whose qs starts 2 bytes into word q.x and ends 2 bytes into q4: each word meets x
// shifted by 2, and the 2 foreign bytes at either end meet zeros.
fn qs_mid(q: vec4<u32>, q4: u32, i: u32) -> f32 {
  let z = vec2<f32>(0.0);
  let s = nibbles(q.x, vec4<f32>(z, xq[i].xy), vec4<f32>(z, xq[i + 4u].xy))
        + nibbles(q.y, vec4<f32>(xq[i].zw, xq[i + 1u].xy), vec4<f32>(xq[i + 4u].zw, xq[i + 5u].xy))
        + nibbles(q.z, vec4<f32>(xq[i + 1u].zw, xq[i + 2u].xy), vec4<f32>(xq[i + 5u].zw, xq[i + 6u].xy))
        + nibbles(q.w, vec4<f32>(xq[i + 2u].zw, xq[i + 3u].xy), vec4<f32>(xq[i + 6u].zw, xq[i + 7u].xy))
        + nibbles(q4, vec4<f32>(xq[i + 3u].zw, z), vec4<f32>(xq[i + 7u].zw, z));
  return 255.0 * (s.x + 0.0625 * s.y);
}

// Σ w·x over the two blocks at word-aligned byte `at`: A's d is the low half of word 0 and its qs bytes
// 2..17; B's d is the high half of word 4 and its qs words 5..8.
fn pair_dot(at: u32, xs: vec2<f32>) -> f32 {
  let w = at / 4u;
  let v0 = vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
  let v1 = vec4<u32>(weights[w + 4u], weights[w + 5u], weights[w + 6u], weights[w + 7u]);
  let v8 = weights[w + 8u];
  let d = vec2<f32>(unpack2x16float(v0.x).x, unpack2x16float(v1.x).y);
  return d.x * (qs_mid(v0, v1.x, 0u) - 8.0 * xs.x) + d.y * (qs_aligned(vec4<u32>(v1.yzw, v8), 8u) - 8.0 * xs.y);
}

// The same for a pair starting 2 bytes into a word (10 words): A's d is the high half of word 0 and its
// qs words 1..4; B's d is the low half of word 5 and its qs bytes 2 of word 5 to 1 of word 9.
fn pair_dot_mid(at: u32, xs: vec2<f32>) -> f32 {
  let w = at / 4u;
  let v0 = vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
  let v1 = vec4<u32>(weights[w + 4u], weights[w + 5u], weights[w + 6u], weights[w + 7u]);
  let v8 = vec2<u32>(weights[w + 8u], weights[w + 9u]);
  let d = vec2<f32>(unpack2x16float(v0.x).y, unpack2x16float(v1.y).x);
  return d.x * (qs_aligned(vec4<u32>(v0.yzw, v1.x), 0u) - 8.0 * xs.x) + d.y * (qs_mid(vec4<u32>(v1.yzw, v8.x), v8.y, 8u) - 8.0 * xs.y);
}

// Σ w·x over the single block at word-aligned byte `at` (5 words).
fn block_dot(at: u32, xs: f32) -> f32 {
  let w = at / 4u;
  let v = vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
  return unpack2x16float(v.x).x * (qs_mid(v, weights[w + 4u], 0u) - 8.0 * xs);
}

// Σ w·x over the single block starting 2 bytes into a word (5 words).
fn block_dot_mid(at: u32, xs: f32) -> f32 {
  let w = at / 4u;
  let v0 = weights[w];
  let q = vec4<u32>(weights[w + 1u], weights[w + 2u], weights[w + 3u], weights[w + 4u]);
  return unpack2x16float(v0).y * (qs_aligned(q, 0u) - 8.0 * xs);
}

// y[r] = Σ_k W[r,k]·x[k] for a Q8_0 weight shard, one token (decode). Entry point, bindings, row layout and
// the reduction are in common/matvec_rows.wgsl; this file decodes the blocks.
// Q8_0 block (34 bytes): f16 d, then 32 signed bytes qs; value j = d·qs[j].
// A unit is a pair of blocks (64 values, 68 bytes), which starts at the same byte of a word (0 or 2)
// everywhere in a row (see PARITY_ALTERNATES). Either way one block's qs is word-aligned and the other's
// starts 2 bytes into a word: that one is decoded in place against x shifted by 2 elements. No shift
// instructions: on CPU adapters (SwiftShader) they cost as much as a load.

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let blocks = params.cols / 32u;
  let row_bytes = blocks * 34u;
  let s = vec4<u32>(row_start(row0, 0u, row_bytes), row_start(row0, 1u, row_bytes), row_start(row0, 2u, row_bytes), row_start(row0, 3u, row_bytes));
  let pairs = blocks / 2u;
  var acc = vec4<f32>(0.0);
  for (var p = lane; p < pairs; p += TPR) {
    // xq[0..7]: block A's x, xq[8..15]: block B's. Σ q·x = 255·Σ u·x − 128·Σ x with u = (q + 128) / 255.
    let xs = vec2<f32>(load_quad(16u * p, 0u) + load_quad(16u * p + 4u, 4u), load_quad(16u * p + 8u, 8u) + load_quad(16u * p + 12u, 12u));
    let at = 68u * p;
#if PARITY_ALTERNATES
    acc += vec4<f32>(pair_dot(s.x + at, xs), pair_dot_mid(s.y + at, xs), pair_dot(s.z + at, xs), pair_dot_mid(s.w + at, xs));
#else
    acc += vec4<f32>(pair_dot(s.x + at, xs), pair_dot(s.y + at, xs), pair_dot(s.z + at, xs), pair_dot(s.w + at, xs));
#endif
  }
  // An odd block count leaves one block per row, for the lane whose turn it would be; rows then alternate.
  if ((blocks & 1u) != 0u && lane == pairs % TPR) {
    let xs = load_quad(16u * pairs, 0u) + load_quad(16u * pairs + 4u, 4u);
    let at = 68u * pairs;
    acc += vec4<f32>(block_dot(s.x + at, xs), block_dot_mid(s.y + at, xs), block_dot(s.z + at, xs), block_dot_mid(s.w + at, xs));
  }
  return acc;
}

// Σ (q + 128)·x / 255 over the 4 signed bytes of word q: flipping the sign bits maps q ∈ [−128, 127] to the
// unsigned byte q + 128, which unpack4x8unorm converts exactly (snorm would clamp −128).
fn biased(q: u32, xv: vec4<f32>) -> f32 {
  return dot(bytes_unorm(q ^ 0x80808080u), xv);
}

// 255·Σ u·x for a block whose 8 qs words are a, b and whose x is xq[i..i+7].
fn qs_aligned(a: vec4<u32>, b: vec4<u32>, i: u32) -> f32 {
  return 255.0 * (biased(a.x, xq[i]) + biased(a.y, xq[i + 1u]) + biased(a.z, xq[i + 2u]) + biased(a.w, xq[i + 3u])
                + biased(b.x, xq[i + 4u]) + biased(b.y, xq[i + 5u]) + biased(b.z, xq[i + 6u]) + biased(b.w, xq[i + 7u]));
}

// The same for a block whose qs starts 2 bytes into word a.x and ends 2 bytes into c: each word meets x
// shifted by 2, and the 2 foreign bytes at either end meet zeros.
fn qs_mid(a: vec4<u32>, b: vec4<u32>, c: u32, i: u32) -> f32 {
  let z = vec2<f32>(0.0);
  return 255.0 * (biased(a.x, vec4<f32>(z, xq[i].xy)) + biased(a.y, vec4<f32>(xq[i].zw, xq[i + 1u].xy))
                + biased(a.z, vec4<f32>(xq[i + 1u].zw, xq[i + 2u].xy)) + biased(a.w, vec4<f32>(xq[i + 2u].zw, xq[i + 3u].xy))
                + biased(b.x, vec4<f32>(xq[i + 3u].zw, xq[i + 4u].xy)) + biased(b.y, vec4<f32>(xq[i + 4u].zw, xq[i + 5u].xy))
                + biased(b.z, vec4<f32>(xq[i + 5u].zw, xq[i + 6u].xy)) + biased(b.w, vec4<f32>(xq[i + 6u].zw, xq[i + 7u].xy))
                + biased(c, vec4<f32>(xq[i + 7u].zw, z)));
}

fn words4(w: u32) -> vec4<u32> {
  return vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
}

// Σ w·x over the two blocks at word-aligned byte `at` (17 words): A's d is the low half of word 0 and its
// qs bytes 2 of word 0 to 1 of word 8; B's d is the high half of word 8 and its qs words 9..16.
fn pair_dot(at: u32, xs: vec2<f32>) -> f32 {
  let w = at / 4u;
  let a0 = words4(w);
  let a1 = words4(w + 4u);
  let v8 = weights[w + 8u];
  let d = vec2<f32>(unpack2x16float(a0.x).x, unpack2x16float(v8).y);
  return d.x * (qs_mid(a0, a1, v8, 0u) - 128.0 * xs.x) + d.y * (qs_aligned(words4(w + 9u), words4(w + 13u), 8u) - 128.0 * xs.y);
}

// The same for a pair starting 2 bytes into a word (18 words): A's d is the high half of word 0 and its
// qs words 1..8; B's d is the low half of word 9 and its qs bytes 2 of word 9 to 1 of word 17.
fn pair_dot_mid(at: u32, xs: vec2<f32>) -> f32 {
  let w = at / 4u;
  let v0 = weights[w];
  let b0 = words4(w + 9u);
  let d = vec2<f32>(unpack2x16float(v0).y, unpack2x16float(b0.x).x);
  return d.x * (qs_aligned(words4(w + 1u), words4(w + 5u), 0u) - 128.0 * xs.x)
       + d.y * (qs_mid(b0, words4(w + 13u), weights[w + 17u], 8u) - 128.0 * xs.y);
}

// Σ w·x over the single block at word-aligned byte `at` (9 words).
fn block_dot(at: u32, xs: f32) -> f32 {
  let w = at / 4u;
  let a0 = words4(w);
  return unpack2x16float(a0.x).x * (qs_mid(a0, words4(w + 4u), weights[w + 8u], 0u) - 128.0 * xs);
}

// Σ w·x over the single block starting 2 bytes into a word (9 words).
fn block_dot_mid(at: u32, xs: f32) -> f32 {
  let w = at / 4u;
  return unpack2x16float(weights[w]).y * (qs_aligned(words4(w + 1u), words4(w + 5u), 0u) - 128.0 * xs);
}

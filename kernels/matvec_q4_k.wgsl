// y = W·x for one token, W in Q4_K (block_q4_K, 144 bytes, word-aligned): f16 d, f16 dmin, scales[12] (eight
// 6-bit scales and mins, packed as llama.cpp's get_scale_min_k4 reads them), qs[128]. Chunk c (64 values) is
// qs[32c .. 32c+31]: low nibbles are values 64c+l (sub-block 2c), high nibbles 64c+32+l (sub-block 2c+1);
// value = d·scale·q − dmin·min. A unit is one chunk.
const BLOCK_BYTES = 144u;
const UNIT_VALUES = 64u;

fn unit_x(u: u32) -> vec4<f32> {
  return contiguous_x(u);
}

fn unit_dot(block: u32, c: u32, xs: vec4<f32>) -> f32 {
  let w = block >> 2u;
  let qw = w + 4u + 8u * c;
  return k_chunk(words4(w), c, nibble_chunk(words4(qw), words4(qw + 4u)), 1.0, xs);
}

// (Σ lo·x, Σ hi·x) over a chunk's 8 qs words: low nibbles against xq[0..7], high nibbles against xq[8..15].
fn nibble_chunk(a: vec4<u32>, b: vec4<u32>) -> vec2<f32> {
  let s = nibbles(a.x, xq[0], xq[8]) + nibbles(a.y, xq[1], xq[9]) + nibbles(a.z, xq[2], xq[10]) + nibbles(a.w, xq[3], xq[11])
        + nibbles(b.x, xq[4], xq[12]) + nibbles(b.y, xq[5], xq[13]) + nibbles(b.z, xq[6], xq[14]) + nibbles(b.w, xq[7], xq[15]);
  return 255.0 * vec2<f32>(s.x, 0.0625 * s.y);
}

// y = W·x for one token, W in Q5_K (block_q5_K, 176 bytes, word-aligned): f16 d, f16 dmin, scales[12] (as
// Q4_K's), qh[32], qs[128]. Chunk c (64 values) as in Q4_K, each value with a 5th bit: bit 2c of qh[l] for
// value 64c + l, bit 2c + 1 for value 64c + 32 + l; value = d·scale·q − dmin·min. A unit is one chunk.
const BLOCK_BYTES = 176u;
const UNIT_VALUES = 64u;

fn unit_x(u: u32) -> vec4<f32> {
  return contiguous_x(u);
}

fn unit_dot(block: u32, c: u32, xs: vec4<f32>) -> f32 {
  let w = block >> 2u;
  let qw = w + 12u + 8u * c;
  let h0 = words4(w + 4u);
  let h1 = words4(w + 8u);
  let q0 = words4(qw);
  let q1 = words4(qw + 4u);
  let lo = fives(q0 & vec4<u32>(0x0f0f0f0fu), h0 >> vec4<u32>(2u * c), 0u) + fives(q1 & vec4<u32>(0x0f0f0f0fu), h1 >> vec4<u32>(2u * c), 4u);
  let hi = fives((q0 >> vec4<u32>(4u)) & vec4<u32>(0x0f0f0f0fu), h0 >> vec4<u32>(2u * c + 1u), 8u)
         + fives((q1 >> vec4<u32>(4u)) & vec4<u32>(0x0f0f0f0fu), h1 >> vec4<u32>(2u * c + 1u), 12u);
  return k_chunk(words4(w), c, vec2<f32>(lo, hi), 255.0, xs);
}

// Σ q·x / 255 over 16 values: q = nibbles n | (bit 0 of each byte of h) << 4, against xq[i .. i+3].
fn fives(n: vec4<u32>, h: vec4<u32>, i: u32) -> f32 {
  let v = n | ((h & vec4<u32>(0x01010101u)) * 16u);
  return dot(bytes_unorm(v.x), xq[i]) + dot(bytes_unorm(v.y), xq[i + 1u]) + dot(bytes_unorm(v.z), xq[i + 2u]) + dot(bytes_unorm(v.w), xq[i + 3u]);
}

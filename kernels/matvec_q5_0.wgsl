// y = W·x for one token, W in Q5_0 (block_q5_0, 22 bytes): f16 d, u8 qh[4], qs[16]; value j (0..31) has its
// low 4 bits in qs (j < 16: low nibble of qs[j], else high nibble of qs[j − 16]) and its 5th bit in bit j of
// the little-endian u32 qh; value = d·(q − 16).
const BLOCK_BYTES = 22u;

// Words w .. w+5 hold the block: d, then qh and qs as the 5 words after it.
fn block_dot(block: u32, mis: bool, i: u32, xs: f32) -> f32 {
  let w = block >> 2u;
  let a = words4(w);
  let b = vec2<u32>(weights[w + 4u], weights[min(w + 5u, last_word())]);
  let s = skip_half(a, b.x, mis);
  let last = select(mid_word(b.x, b.y), b.y, mis);
  return first_half(a.x, mis) * (q5_block(vec4<u32>(s.yzw, last), s.x, i) - 16.0 * xs);
}

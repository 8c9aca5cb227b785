// y = W·x for one token, W in IQ4_NL (block_iq4_nl, 18 bytes): f16 d, qs[16] of 4-bit indices into the 16
// levels kvalues_iq4nl; value j = d·kvalues[qs[j] & 15], value j+16 = d·kvalues[qs[j] >> 4].
const BLOCK_BYTES = 18u;

fn block_dot(block: u32, mis: bool, i: u32, xs: f32) -> f32 {
  let w = block >> 2u;
  let a = words4(w);
  return first_half(a.x, mis) * iq4_block(skip_half(a, weights[min(w + 4u, last_word())], mis), i);
}

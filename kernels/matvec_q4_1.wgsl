// y = W·x for one token, W in Q4_1 (block_q4_1, 20 bytes, so always word-aligned): f16 d, f16 m, qs[16];
// value j = d·(qs[j] & 15) + m, value j+16 = d·(qs[j] >> 4) + m.
const BLOCK_BYTES = 20u;

fn block_dot(block: u32, mis: bool, i: u32, xs: f32) -> f32 {
  let w = block >> 2u;
  let dm = unpack2x16float(weights[w]);
  return dm.x * nibble_block(words4(w + 1u), i) + dm.y * xs;
}

// y = W·x for one token, W in Q5_1 (block_q5_1, 24 bytes, so always word-aligned): f16 d, f16 m, u8 qh[4],
// qs[16]; the 5-bit q of value j as in Q5_0 (matvec_q5_0.wgsl); value = d·q + m.
const BLOCK_BYTES = 24u;

fn block_dot(block: u32, mis: bool, i: u32, xs: f32) -> f32 {
  let w = block >> 2u;
  let dm = unpack2x16float(weights[w]);
  return dm.x * q5_block(words4(w + 2u), weights[w + 1u], i) + dm.y * xs;
}

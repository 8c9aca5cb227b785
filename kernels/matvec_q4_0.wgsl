// y = W·x for one token, W in Q4_0 (ggml-common.h block_q4_0, 18 bytes): f16 d, qs[16]; value j = d·((qs[j] & 15) − 8),
// value j+16 = d·((qs[j] >> 4) − 8). The loop is common/matvec_loop32.wgsl.
const BLOCK_BYTES = 18u;

// Σ (q − 8)·x = Σ q·x − 8·Σ x. Words w .. w+4 hold the block at either alignment.
fn block_dot(block: u32, mis: bool, i: u32, xs: f32) -> f32 {
  let w = block >> 2u;
  let a = words4(w);
  let q = skip_half(a, weights[min(w + 4u, last_word())], mis);
  return first_half(a.x, mis) * (nibble_block(q, i) - 8.0 * xs);
}

// y = W·x for one token, W in Q8_0 (block_q8_0, 34 bytes): f16 d, i8 qs[32]; value j = d·qs[j].
const BLOCK_BYTES = 34u;

// Σ q·x = 255·Σ u·x − 128·Σ x with u = (q + 128) / 255 (see biased()). Words w .. w+8 hold the block.
fn block_dot(block: u32, mis: bool, i: u32, xs: f32) -> f32 {
  let w = block >> 2u;
  let a0 = words4(w);
  let a1 = words4(w + 4u);
  let a = skip_half(a0, a1.x, mis);
  let b = skip_half(a1, weights[min(w + 8u, last_word())], mis);
  let s = biased(a.x, xq[i]) + biased(a.y, xq[i + 1u]) + biased(a.z, xq[i + 2u]) + biased(a.w, xq[i + 3u])
        + biased(b.x, xq[i + 4u]) + biased(b.y, xq[i + 5u]) + biased(b.z, xq[i + 6u]) + biased(b.w, xq[i + 7u]);
  return first_half(a0.x, mis) * (255.0 * s - 128.0 * xs);
}

// y = W·x for one token, W in BF16 (the top 16 bits of an f32). The row loop is common/matvec_halves.wgsl.
fn halves(w: u32) -> vec2<f32> {
  return bitcast<vec2<f32>>(vec2<u32>(w << 16u, w & 0xffff0000u));
}

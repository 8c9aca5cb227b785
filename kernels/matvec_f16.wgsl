// y = W·x for one token, W in F16. The row loop is common/matvec_halves.wgsl.
fn halves(w: u32) -> vec2<f32> {
  return unpack2x16float(w);
}
